"""Plumbing shared by the peer clients: one HTTP client per peer and ONE place that turns
what a peer answered (or failed to answer) into our errors.

- transient (timeout, connection error, 5xx, 408, 429) -> ``PeerUnavailable``: retry
- a business refusal (a known problem type)             -> the ``DomainError``: don't retry
- any other 4xx or an unreadable body                   -> ``PeerContractError``: a bug
- a request our client refuses to send (a header value,
  a URL or a path segment it cannot carry)              -> ``PeerRequestInvalid``: a bug
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.errors import (
    BillingRefused,
    DoctorNotFound,
    DomainError,
    PatientNotFound,
    PeerContractError,
    PeerRequestInvalid,
    PeerUnavailable,
    SlotNotOffered,
    SlotUnavailable,
)

if TYPE_CHECKING:
    from peers.breaker import CircuitBreaker

PeerName = Literal["patient", "doctor", "billing"]
IDEMPOTENCY_HEADER = "Idempotency-Key"

T = TypeVar("T")


_BY_PROBLEM_TYPE: Mapping[str, type[DomainError]] = {
    "slot-unavailable": SlotUnavailable,
    "slot-not-offered": SlotNotOffered,
    "patient-not-found": PatientNotFound,
    "doctor-not-found": DoctorNotFound,
    "payment-refused": BillingRefused,
    # Confirming a hold that expired: someone else may hold the slot by now, so for the
    # booking it is the same refusal as a taken slot.
    "hold-expired": SlotUnavailable,
}

# Only for untyped problems (about:blank or no problem body): a real peer may answer a bare
# 404, and on the patient service that can only mean the patient.
_UNTYPED_BY_STATUS: Mapping[tuple[PeerName, int], type[DomainError]] = {
    ("patient", 404): PatientNotFound,
    ("doctor", 404): DoctorNotFound,
    ("billing", 402): BillingRefused,
}

# Statuses that say "not now" rather than "never": timeouts and rate limits.
_TRANSIENT_4XX = frozenset({408, 429})


def _problem(response: httpx.Response) -> tuple[str | None, str]:
    """The problem type's last segment (None when untyped) and a human detail."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return None, str(body)[:200]
    problem_type = str(body.get("type") or "about:blank")
    detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
    code = None if problem_type == "about:blank" else problem_type.rstrip("/").rsplit("/", 1)[-1]
    return code, detail


def error_for(peer: PeerName, response: httpx.Response) -> Exception | None:
    """The error a peer's answer means, or None for a success."""
    status = response.status_code
    if response.is_success:
        return None
    code, detail = _problem(response)
    if status >= 500 or status in _TRANSIENT_4XX:
        return PeerUnavailable(peer, f"HTTP {status}: {detail}")
    refusal = _BY_PROBLEM_TYPE.get(code) if code else _UNTYPED_BY_STATUS.get((peer, status))
    if refusal is not None:
        return refusal(detail)
    return PeerContractError(peer, status, f"{code or 'untyped'}: {detail}")


class PeerHttp:
    """One peer's HTTP client. Every request goes through ``request``, so every failure
    is mapped the same way, and, given a breaker, every call is guarded by it: the mapping
    runs inside the guard, so the breaker sees our errors, not httpx's."""

    def __init__(
        self,
        peer: PeerName,
        base_url: str,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.peer = peer
        self.breaker = breaker
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        # Building an adapter compiles a validator; a client parses the same few shapes.
        self._adapters: dict[object, TypeAdapter[Any]] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | None] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        passthrough: Collection[int] = (),
    ) -> httpx.Response:
        """Send, and raise the mapped error unless the status is a success or one the caller
        handles itself (``passthrough``)."""
        query = {name: value for name, value in (params or {}).items() if value is not None}
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        async with self._guard():
            try:
                response = await self._client.request(
                    method, path, params=query, json=json, headers=headers
                )
            except httpx.TimeoutException as exc:
                raise PeerUnavailable(self.peer, f"timed out: {method} {path}") from exc
            except (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                # Our own request is malformed (say a header with a newline): no peer was
                # asked, and no retry will send it.
                raise PeerRequestInvalid(self.peer, f"{type(exc).__name__}: {exc}") from exc
            except httpx.TransportError as exc:
                detail = f"{type(exc).__name__}: {method} {path}"
                raise PeerUnavailable(self.peer, detail) from exc
            if response.status_code not in passthrough:
                error = error_for(self.peer, response)
                if error is not None:
                    raise error
        return response

    def _guard(self) -> AbstractAsyncContextManager[None]:
        return self.breaker.guard() if self.breaker is not None else nullcontext()

    def parse(self, shape: type[T], response: httpx.Response) -> T:
        """The body as ``shape`` (a model or e.g. ``list[Hold]``); a mismatch is a contract bug."""
        try:
            adapter = self._adapters.get(shape)
            if adapter is None:
                adapter = self._adapters[shape] = TypeAdapter(shape)
            return cast(T, adapter.validate_json(response.content))
        except ValidationError as exc:
            raise PeerContractError(
                self.peer, response.status_code, f"unexpected body: {exc}"
            ) from exc

    async def create(self, path: str, body: BaseModel, idempotency_key: str, shape: type[T]) -> T:
        """POST ``body`` under ``idempotency_key``: the peer answers the same resource for
        the same key, so a retry after a lost answer never creates a second one."""
        response = await self.request(
            "POST", path, json=body.model_dump(mode="json"), idempotency_key=idempotency_key
        )
        return self.parse(shape, response)

    async def aclose(self) -> None:
        await self._client.aclose()


class PeerClient:
    """What every peer's client shares: its HTTP (timeouts, error mapping, the breaker
    guarding every call), named by ``peer``."""

    peer: ClassVar[PeerName]

    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._http = PeerHttp(self.peer, base_url, timeout, transport=transport, breaker=breaker)

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self._http.breaker

    def segment(self, value: str) -> str:
        """``value`` as ONE path segment of the peer's URL: every reserved character
        escaped. An empty value and the dot segments ``.`` and ``..`` (which a URL resolves
        against its path) are refused: they would name another resource."""
        if value in ("", ".", ".."):
            raise PeerRequestInvalid(self.peer, f"{value!r} cannot be a path segment")
        return quote(value, safe="")

    async def aclose(self) -> None:
        await self._http.aclose()
