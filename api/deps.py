"""Dependencies of the routes, typed with Annotated (full-stack-fastapi-template style): the
caller, the use cases, and the headers every door reads the same way."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema

from api.problems import ProblemError
from api.security.tokens import InvalidToken, TokenVerifier
from application.access import Requester
from application.identifiers import IDEMPOTENCY_KEY, KEY_RULE, MAX_KEY_LENGTH, idempotency_key
from application.permissions import Principal
from application.services import Services
from config import Settings

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="A JWT. Locally: `appointment-service token --role staff --sub frontdesk-1` "
    "(make run prints one per role).",
)


# ``services`` and ``requester`` await nothing, yet are async: FastAPI runs a plain
# function dependency in its thread pool, a thread hop per request for each.
async def services(request: Request) -> Services:
    value: Services | None = getattr(request.app.state, "services", None)
    if value is None:  # the app's lifespan did not connect it: a wiring bug, answered as 500
        raise RuntimeError("app.state.services is not set")
    return value


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ProblemError(
        401, "unauthorized", "Authentication required", detail, {"WWW-Authenticate": challenge}
    )


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller. Async: a key lookup at the identity provider (JWKS) is awaited, never
    run on the event loop."""
    if credentials is None:
        raise _unauthorized("send a Bearer token in the Authorization header")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        who = await verifier.verify(credentials.credentials)
    except InvalidToken:
        # The reason stays in our logs; the caller learns only that the token is refused.
        raise _unauthorized("the token is invalid or expired", "invalid_token") from None
    request.state.principal = who  # for the request log line
    return who


PrincipalDep = Annotated[Principal, Depends(principal)]


async def requester(request: Request, who: PrincipalDep) -> Requester:
    return Requester(who, getattr(request.state, "request_id", None))


def header_schema(schema: dict[str, Any]) -> WithJsonSchema:
    """An optional header's schema as the OpenAPI document states it: a string that
    follows ``schema``'s rules. (A ``str | None`` parameter would be documented as
    string-or-null, and a client that sends ``null`` sends the text "null".)"""
    return WithJsonSchema({"type": "string", **schema})


# The rule ``idempotency_key`` checks, as the schema states it.
KEY_SCHEMA = {"pattern": f"^{IDEMPOTENCY_KEY}$", "minLength": 1, "maxLength": MAX_KEY_LENGTH}


def booking_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the request safe to retry: the same key always gives the "
            f"same booking. {KEY_RULE}. Generated when absent.",
        ),
        header_schema(KEY_SCHEMA | {"examples": ["3f9c2e4a-booking-1"]}),
    ] = None,
) -> str:
    return str(uuid.uuid4()) if key is None else idempotency_key(key)


def change_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the change safe to retry: a request with a key already used "
            "for this change of this appointment changes nothing and answers the appointment "
            f"as it is. {KEY_RULE}",
        ),
        header_schema(KEY_SCHEMA | {"examples": ["confirm-7b0e-1"]}),
    ] = None,
) -> str | None:
    return None if key is None else idempotency_key(key)


_PREFER_WAIT = re.compile(r"\bwait=(\d+)")


def wait_budget(settings: Settings, prefer: str | None) -> float:
    """How long a saga-backed request waits for the outcome before answering 202:
    ``Prefer: respond-async`` not at all, ``Prefer: wait=N`` at most N seconds; never
    longer than the configured budget."""
    if prefer and "respond-async" in prefer:
        return 0.0
    match = _PREFER_WAIT.search(prefer or "")
    budget = settings.booking_wait_seconds
    return min(float(match.group(1)), budget) if match else budget


def wait(
    request: Request,
    prefer: Annotated[
        str | None,
        Header(
            alias="Prefer",
            description="`respond-async` (answer 202 at once) or `wait=<seconds>` (RFC 7240); "
            "other preferences are ignored, as RFC 7240 asks",
        ),
        header_schema({"examples": ["respond-async", "wait=5"]}),
    ] = None,
) -> float:
    return wait_budget(request.app.state.settings, prefer)


ServicesDep = Annotated[Services, Depends(services)]
RequesterDep = Annotated[Requester, Depends(requester)]
BookingKeyDep = Annotated[str, Depends(booking_key)]
ChangeKeyDep = Annotated[str | None, Depends(change_key)]
WaitDep = Annotated[float, Depends(wait)]


@dataclass(frozen=True, slots=True)
class SagaCall:
    """What a saga-backed request (book, cancel, reschedule) brings besides its body: who
    asks, the Idempotency-Key (made when absent), how long to wait, and the use cases."""

    requester: Requester
    key: str
    wait: float
    services: Services


def saga_call(
    requester: RequesterDep, key: BookingKeyDep, wait: WaitDep, services: ServicesDep
) -> SagaCall:
    return SagaCall(requester, key, wait, services)


SagaCallDep = Annotated[SagaCall, Depends(saga_call)]
