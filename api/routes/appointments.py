"""/api/v1/appointments: book one, read one."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse

from api.booking import Booked
from api.deps import (
    BookingDep,
    CallerDep,
    IdempotencyKeyDep,
    PrincipalDep,
    SettingsDep,
    StoreDep,
)
from api.problems import MEDIA_TYPE, Problem
from api.schemas import AppointmentOut, BookAppointment, BookingAccepted, PendingAppointment
from api.security.permissions import Action, Owners, authorize, ensure_may_book_for
from domain.errors import AppointmentNotFound

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])

_PREFER_WAIT = re.compile(r"\bwait=(\d+)")


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad header (Idempotency-Key)",
        401: "No token, or an invalid or expired one",
        403: "The caller's role may not do this",
        402: "Billing refused the invoice",
        404: "Not found",
        409: "The slot is taken (or the booking was cancelled)",
        422: "Invalid input, an unknown patient or doctor, a slot the doctor does not offer, "
        "or an Idempotency-Key reused with another request",
        503: "A peer stayed unavailable; the saga compensated and nothing was booked",
    }
    return {
        code: {"model": Problem, "description": text[code], "content": {MEDIA_TYPE: {}}}
        for code in codes
    }


def _wait_budget(prefer: str | None, budget: float) -> float:
    """RFC 7240: ``Prefer: respond-async`` answers 202 at once; ``Prefer: wait=N`` waits at
    most N seconds. Never longer than the configured budget."""
    if prefer and "respond-async" in prefer:
        return 0.0
    match = _PREFER_WAIT.search(prefer or "")
    return min(float(match.group(1)), budget) if match else budget


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentOut,
    summary="Book an appointment",
    description="Runs the booking saga (patient check, availability, slot hold, "
    "persistence, invoice) and answers once it finished, or 202 if it still runs when the "
    "wait budget is spent.",
    responses={
        202: {"model": BookingAccepted, "description": "Still booking; poll Location"},
        **_problems(400, 401, 402, 403, 409, 422, 503),
    },
)
async def book_appointment(
    body: BookAppointment,
    response: Response,
    who: PrincipalDep,
    booking: BookingDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
    settings: SettingsDep,
    prefer: Annotated[str | None, Header(description="respond-async, or wait=<seconds>")] = None,
) -> Any:
    ensure_may_book_for(who, body.patient_id)
    wait = _wait_budget(prefer, settings.booking_wait_seconds)
    answer = await booking.book(body, key, caller, wait)
    headers = {"Idempotency-Key": key}
    if isinstance(answer, Booked):
        location = f"{router.prefix}/{answer.appointment.id}"
        response.headers.update(headers | {"Location": location})
        return AppointmentOut.of(answer.appointment)
    location = f"{router.prefix}/{answer.appointment_id}"
    accepted = BookingAccepted(
        appointment_id=answer.appointment_id, step=answer.step, workflow_id=answer.workflow_id
    )
    return JSONResponse(
        accepted.model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers=headers | {"Location": location, "Retry-After": "1"},
    )


@router.get(
    "/{appointment_id}",
    response_model=AppointmentOut | PendingAppointment,
    summary="Read one appointment",
    description="The stored appointment; while its booking saga has not persisted it yet, "
    "a PENDING placeholder with the saga's current step.",
    responses=_problems(401, 403, 404, 422),
)
async def get_appointment(
    appointment_id: uuid.UUID, who: PrincipalDep, store: StoreDep, booking: BookingDep
) -> AppointmentOut | PendingAppointment:
    authorize(who, Action.READ)
    appointment = await store.get(str(appointment_id))
    if appointment is not None:
        authorize(who, Action.READ, Owners(appointment.patient_id, appointment.doctor_id))
        return AppointmentOut.of(appointment)
    pending = await booking.pending(str(appointment_id))
    if pending is not None:
        authorize(who, Action.READ, Owners(pending.patient_id, pending.doctor_id))
        return pending
    raise AppointmentNotFound(f"no appointment {appointment_id}")
