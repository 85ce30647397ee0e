"""Client of the Billing Service."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from peers.breaker import CircuitBreaker
from peers.contracts import Invoice, InvoiceRequest
from peers.http import PeerHttp


class BillingClient:
    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._http = PeerHttp("billing", base_url, timeout, transport=transport, breaker=breaker)

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self._http.breaker

    async def create_invoice(self, request: InvoiceRequest, idempotency_key: str) -> Invoice:
        """The same key answers the same invoice, so a retried saga step bills once.
        Raises ``BillingRefused``; reusing a key for a different request is a
        ``PeerContractError``."""
        response = await self._http.request(
            "POST",
            "/invoices",
            json=request.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return self._http.parse(Invoice, response)

    async def void_invoice(self, invoice_id: str) -> Invoice:
        """Idempotent: voiding a void invoice answers it again."""
        response = await self._http.request("POST", f"/invoices/{quote(invoice_id, safe='')}/void")
        return self._http.parse(Invoice, response)

    async def get_invoice(self, invoice_id: str) -> Invoice:
        response = await self._http.request("GET", f"/invoices/{quote(invoice_id, safe='')}")
        return self._http.parse(Invoice, response)

    async def list_invoices(self, appointment_id: str | None = None) -> list[Invoice]:
        response = await self._http.request(
            "GET", "/invoices", params={"appointment_id": appointment_id}
        )
        return self._http.parse(list[Invoice], response)

    async def aclose(self) -> None:
        await self._http.aclose()
