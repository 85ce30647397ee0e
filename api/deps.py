"""Dependencies of the routes, typed with Annotated (full-stack-fastapi-template style)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Header, Request

from activities.models import Caller
from api.booking import BookingService
from api.problems import ProblemError
from config import Settings
from persistence import AppointmentStore

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def booking_service(request: Request) -> BookingService:
    value: BookingService = request.app.state.booking
    return value


def store(request: Request) -> AppointmentStore:
    value: AppointmentStore = request.app.state.store
    return value


def caller(request: Request) -> Caller:
    # Authentication arrives with issue #3; until then every caller is the front desk.
    return Caller(actor="staff:front-desk", request_id=getattr(request.state, "request_id", None))


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


SettingsDep = Annotated[Settings, Depends(settings)]
BookingDep = Annotated[BookingService, Depends(booking_service)]
StoreDep = Annotated[AppointmentStore, Depends(store)]
CallerDep = Annotated[Caller, Depends(caller)]
IdempotencyKeyDep = Annotated[str, Depends(idempotency_key)]
