"""Client of the Billing Service."""

from __future__ import annotations

from peers.contracts import Invoice, InvoiceRequest
from peers.http import PeerClient


class BillingClient(PeerClient):
    peer = "billing"

    async def create_invoice(self, request: InvoiceRequest, idempotency_key: str) -> Invoice:
        """The same key answers the same invoice, so a retried saga step bills once.
        Raises ``BillingRefused``; reusing a key for a different request is a
        ``PeerContractError``."""
        return await self._http.create("/invoices", request, idempotency_key, Invoice)

    async def void_invoice(self, invoice_id: str) -> Invoice | None:
        """Idempotent: voiding a void invoice answers it again; None when Billing does not
        know the invoice (nothing left to void)."""
        path = f"/invoices/{self.segment(invoice_id)}/void"
        response = await self._http.request("POST", path, passthrough=(404,))
        return None if response.status_code == 404 else self._http.parse(Invoice, response)

    async def get_invoice(self, invoice_id: str) -> Invoice:
        response = await self._http.request("GET", f"/invoices/{self.segment(invoice_id)}")
        return self._http.parse(Invoice, response)

    async def list_invoices(self, appointment_id: str | None = None) -> list[Invoice]:
        response = await self._http.request(
            "GET", "/invoices", params={"appointment_id": appointment_id}
        )
        return self._http.parse(list[Invoice], response)
