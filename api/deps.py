"""Dependencies of the routes, typed with Annotated (full-stack-fastapi-template style)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.appointment_sagas import AppointmentSagas
from api.booking import BookingService
from api.problems import ProblemError
from api.security.permissions import Principal
from api.security.tokens import InvalidToken, TokenVerifier
from config import Settings
from domain.events import EventContext
from persistence import AppointmentStore
from projections.queries import ScheduleQueries

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="A JWT. Locally: `appointment-service token --role staff --sub frontdesk-1` "
    "(make run prints one per role).",
)


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def booking_service(request: Request) -> BookingService:
    value: BookingService = request.app.state.booking
    return value


def store(request: Request) -> AppointmentStore:
    value: AppointmentStore = request.app.state.store
    return value


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ProblemError(
        401, "unauthorized", "Authentication required", detail, {"WWW-Authenticate": challenge}
    )


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("send a Bearer token in the Authorization header")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        who = verifier.verify(credentials.credentials)
    except InvalidToken:
        # The reason stays in our logs; the caller learns only that the token is refused.
        raise _unauthorized("the token is invalid or expired", "invalid_token") from None
    request.state.principal = who  # for the request log line
    return who


PrincipalDep = Annotated[Principal, Depends(principal)]


def caller(request: Request, who: PrincipalDep) -> EventContext:
    return EventContext(actor=who.actor, request_id=getattr(request.state, "request_id", None))


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the request safe to retry: the same key always gives the "
            "same booking. 1-128 of A-Z a-z 0-9 _ . : -. Generated when absent.",
            examples=["3f9c2e4a-booking-1"],
        ),
    ] = None,
) -> str:
    if key is None:
        return str(uuid.uuid4())
    if not _KEY.match(key):
        raise ProblemError(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "use 1-128 characters of A-Z a-z 0-9 _ . : -",
        )
    return key


_PREFER_WAIT = re.compile(r"\bwait=(\d+)")


def wait_budget(
    config: Annotated[Settings, Depends(settings)],
    prefer: Annotated[
        str | None,
        Header(description="`respond-async` (answer 202 at once) or `wait=<seconds>` (RFC 7240)"),
    ] = None,
) -> float:
    """How long a saga-backed request waits for the outcome before answering 202:
    ``Prefer: respond-async`` not at all, ``Prefer: wait=N`` at most N seconds; never
    longer than the configured budget."""
    if prefer and "respond-async" in prefer:
        return 0.0
    match = _PREFER_WAIT.search(prefer or "")
    budget = config.booking_wait_seconds
    return min(float(match.group(1)), budget) if match else budget


def appointment_sagas(request: Request) -> AppointmentSagas:
    value: AppointmentSagas = request.app.state.sagas
    return value


def schedule_queries(request: Request) -> ScheduleQueries:
    value: ScheduleQueries = request.app.state.schedule
    return value


SettingsDep = Annotated[Settings, Depends(settings)]
WaitDep = Annotated[float, Depends(wait_budget)]
SagasDep = Annotated[AppointmentSagas, Depends(appointment_sagas)]
BookingDep = Annotated[BookingService, Depends(booking_service)]
StoreDep = Annotated[AppointmentStore, Depends(store)]
CallerDep = Annotated[EventContext, Depends(caller)]
IdempotencyKeyDep = Annotated[str, Depends(idempotency_key)]
ScheduleDep = Annotated[ScheduleQueries, Depends(schedule_queries)]
