"""/api/v1/appointments/{id}/<change>: the appointment's status changes after booking.

Every change answers the appointment as it is afterwards, with its ``ETag``, and takes
the same headers: ``If-Match`` (only if the appointment is still at the version the
caller saw) and ``Idempotency-Key`` (a retried request changes nothing twice)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse

from api import lifecycle
from api.appointment_sagas import Running
from api.deps import (
    CallerDep,
    IdempotencyKeyDep,
    PrincipalDep,
    SagasDep,
    StoreDep,
    WaitDep,
    idempotency_key,
)
from api.lifecycle import ChangeRequest
from api.problems import Problem, ProblemError
from api.schemas import (
    AppointmentOut,
    CancelAppointment,
    ChangeReason,
    RescheduleAppointment,
    SagaAccepted,
)
from api.security.permissions import Action
from domain.model import Appointment

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])

_ETAG = re.compile(r'^"(\d{1,9})"$')

PROBLEM_TEXT: dict[int, str] = {
    400: "A malformed If-Match or Idempotency-Key header",
    401: "No token, or an invalid or expired one",
    403: "The caller's role may never do this",
    404: "No such appointment, or someone else's",
    409: "`illegal-transition`: the current status (named in detail) does not allow it; "
    "`concurrent-modification`: the appointment changed since the version in If-Match "
    "(or during the request)",
    413: "The request body is too large (over the configured limit, 64 KiB by default)",
    422: "Invalid input: the id is not a UUID, or the body has unknown fields or wrong "
    "types; or an Idempotency-Key reused with another request (`idempotency-key-reused`)",
}


def header(description: str, required: bool = True) -> dict[str, Any]:
    """A response header for the OpenAPI document."""
    return {"description": description, "required": required, "schema": {"type": "string"}}


LOCATION = header("the appointment's URL, e.g. /api/v1/appointments/<id>: poll it")
RETRY_AFTER = header("seconds to wait before polling Location")
ETAG = header('the appointment\'s version, e.g. "3": send it as If-Match')


def problem(description: str) -> dict[str, Any]:
    """A problem response for the OpenAPI document. The application's ``openapi()`` (see
    ``api/app.py``) puts every 4xx and 5xx under application/problem+json as Problem."""
    return {"model": Problem, "description": description}


def change_responses(**more_409: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a change: 200 with its ETag, and the problems."""
    text = dict(PROBLEM_TEXT)
    for code, why in more_409.items():
        text[409] += f"; `{code.replace('_', '-')}`: {why}"
    ok = {"description": "The appointment after the change", "headers": {"ETag": ETAG}}
    return {200: ok, **{code: problem(why) for code, why in text.items()}}


def if_match(
    value: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Change only if the appointment is still at this version: the ETag of "
            'the last read, e.g. "3". Absent or *: whatever the stored version is.',
            examples=['"3"'],
        ),
    ] = None,
) -> int | None:
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value.strip())
    if match is None:
        raise ProblemError(
            400,
            "invalid-if-match",
            "Invalid If-Match",
            'send the ETag of the appointment as it came, e.g. "3" (with the quotes)',
        )
    return int(match.group(1))


def change_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the change safe to retry: a request with a key already used "
            "for this change of this appointment changes nothing and answers the appointment "
            "as it is. 1-128 of A-Z a-z 0-9 _ . : -",
            examples=["confirm-7b0e-1"],
        ),
    ] = None,
) -> str | None:
    return None if key is None else idempotency_key(key)


def change_request(
    appointment_id: uuid.UUID,
    who: PrincipalDep,
    caller: CallerDep,
    key: Annotated[str | None, Depends(change_key)],
    version: Annotated[int | None, Depends(if_match)],
) -> ChangeRequest:
    return ChangeRequest(
        appointment_id=str(appointment_id),
        principal=who,
        request_id=caller.request_id,
        idempotency_key=key,
        if_match=version,
    )


ChangeDep = Annotated[ChangeRequest, Depends(change_request)]


def answer(response: Response, appointment: Appointment) -> AppointmentOut:
    response.headers["ETag"] = f'"{appointment.version}"'
    return AppointmentOut.of(appointment)


async def _change(
    action: Action, ask: ChangeRequest, body: ChangeReason | None, store: StoreDep
) -> Appointment:
    reason = body.reason if body else None
    return await lifecycle.change_status(store, action, dataclasses.replace(ask, reason=reason))


@router.post(
    "/{appointment_id}/confirm",
    response_model=AppointmentOut,
    summary="Confirm an appointment",
    description="SCHEDULED → CONFIRMED. Admin and staff.",
    responses=change_responses(),
)
async def confirm(
    ask: ChangeDep, store: StoreDep, response: Response, body: ChangeReason | None = None
) -> AppointmentOut:
    return answer(response, await _change(Action.CONFIRM, ask, body, store))


@router.post(
    "/{appointment_id}/check-in",
    response_model=AppointmentOut,
    summary="Check the patient in",
    description="SCHEDULED or CONFIRMED → CHECKED_IN. Admin, staff, and the appointment's doctor.",
    responses=change_responses(),
)
async def check_in(
    ask: ChangeDep, store: StoreDep, response: Response, body: ChangeReason | None = None
) -> AppointmentOut:
    return answer(response, await _change(Action.CHECK_IN, ask, body, store))


@router.post(
    "/{appointment_id}/complete",
    response_model=AppointmentOut,
    summary="Complete an appointment",
    description="CHECKED_IN → COMPLETED. Admin, staff, and the appointment's doctor.",
    responses=change_responses(),
)
async def complete(
    ask: ChangeDep, store: StoreDep, response: Response, body: ChangeReason | None = None
) -> AppointmentOut:
    return answer(response, await _change(Action.COMPLETE, ask, body, store))


@router.post(
    "/{appointment_id}/no-show",
    response_model=AppointmentOut,
    summary="Record a no-show",
    description="SCHEDULED or CONFIRMED → NO_SHOW, once the appointment's start time has "
    "passed. Admin, staff, and the appointment's doctor.",
    responses=change_responses(no_show_before_start="the appointment has not started yet"),
)
async def no_show(
    ask: ChangeDep, store: StoreDep, response: Response, body: ChangeReason | None = None
) -> AppointmentOut:
    return answer(response, await _change(Action.NO_SHOW, ask, body, store))


def _saga_answer(response: Response, result: Appointment | Running) -> Any:
    if isinstance(result, Running):
        accepted = SagaAccepted(
            appointment_id=result.appointment_id, workflow_id=result.workflow_id
        )
        return JSONResponse(
            accepted.model_dump(),
            status_code=202,
            headers={"Location": f"{router.prefix}/{result.appointment_id}", "Retry-After": "1"},
        )
    return answer(response, result)


_SAGA_RESPONSES = {
    **change_responses(),
    202: {
        "model": SagaAccepted,
        "description": "Still running; poll Location",
        "headers": {"Location": LOCATION, "Retry-After": RETRY_AFTER},
    },
    503: problem("A peer stayed unavailable before the change was made; nothing changed"),
}


@router.post(
    "/{appointment_id}/cancel",
    response_model=AppointmentOut,
    summary="Cancel an appointment (saga)",
    description="Runs CancellationWorkflow: the late fee of the policy captured at booking "
    "if due, CANCELLED, then the invoice voided and the slot released at the Doctor Service. "
    "A change made meanwhile wins (409) and nothing is changed. Patients cancel their own.",
    responses=_SAGA_RESPONSES,
)
async def cancel(
    appointment_id: uuid.UUID,
    body: CancelAppointment,
    who: PrincipalDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
    wait: WaitDep,
    sagas: SagasDep,
    response: Response,
) -> Any:
    result = await sagas.cancel(str(appointment_id), body, who, caller, key, wait)
    return _saga_answer(response, result)


@router.post(
    "/{appointment_id}/reschedule",
    response_model=AppointmentOut,
    summary="Move an appointment to a new time (saga)",
    description="Runs RescheduleWorkflow: holds the new slot first, invoices the new time, "
    "moves the appointment (same id, SCHEDULED again), then releases the old slot and voids "
    "the old invoice. If anything fails before the move, the original stays untouched.",
    responses=_SAGA_RESPONSES,
)
async def reschedule(
    appointment_id: uuid.UUID,
    body: RescheduleAppointment,
    who: PrincipalDep,
    caller: CallerDep,
    key: IdempotencyKeyDep,
    wait: WaitDep,
    sagas: SagasDep,
    response: Response,
) -> Any:
    result = await sagas.reschedule(str(appointment_id), body, who, caller, key, wait)
    return _saga_answer(response, result)
