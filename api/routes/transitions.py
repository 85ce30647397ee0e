"""/api/v1/appointments/{id}/<change>: the appointment's status changes after booking.

Every change answers the appointment as it is afterwards, with its ``ETag``, and takes
the same headers: ``If-Match`` (only if the appointment is still at the version the
caller saw) and ``Idempotency-Key`` (a retried request changes nothing twice)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Header, Path, Response
from fastapi.responses import JSONResponse

from api.deps import ChangeKeyDep, RequesterDep, SagaCallDep, ServicesDep, header_schema
from api.problems import Problem, ProblemError
from api.schemas import (
    AppointmentOut,
    CancelAppointment,
    ChangeReason,
    NoShowReversal,
    RescheduleAppointment,
    SagaAccepted,
)
from application.commands import (
    Cancel,
    Change,
    ChangeStatus,
    Reschedule,
    ReverseNoShow,
    StatusAction,
)
from application.identifiers import AppointmentId
from application.results import SagaRunning
from application.services import Services
from domain.model import Appointment

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])

# An If-Match: ``*``, or the version, as the ETag carries it ("3") or bare (3). RFC 9110
# quotes entity-tags, but a bare version is just as unambiguous, and some clients (and
# Schemathesis' coverage phase) drop the quotes: refusing it helped nobody.
IF_MATCH_PATTERN = r'^(\*|[0-9]{1,9}|"[0-9]{1,9}")$'
_VERSION = re.compile(r'(?P<q>"?)([0-9]{1,9})(?P=q)')
EXAMPLE_ID = "0b5f2c7e-4f1a-4f3e-9a51-7c1d2e3f4a5b"

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


_ONE = "#/paths/~1api~1v1~1appointments~1{appointment_id}"
# What may be done with the appointment an answer names: its OpenAPI links, which a client
# (or a test walking the API, as Schemathesis' stateful phase) follows with its id.
_ON_AN_APPOINTMENT: dict[str, tuple[str, str]] = {
    "read": ("get", ""),
    "edit": ("patch", ""),
    "enter_in_error": ("delete", ""),
    "history": ("get", "/history"),
    **{action.replace("-", "_"): ("post", f"/{action}") for action in get_args(StatusAction)},
    "cancel": ("post", "/cancel"),
    "reschedule": ("post", "/reschedule"),
    "reverse_no_show": ("post", "/no-show/reversal"),
}


def appointment_links(id_field: str) -> dict[str, dict[str, Any]]:
    """The links of an answer whose body names the appointment in ``id_field``."""
    return {
        name: {
            "operationRef": f"{_ONE}{segment.replace('/', '~1')}/{method}",
            "parameters": {"appointment_id": f"$response.body#/{id_field}"},
        }
        for name, (method, segment) in _ON_AN_APPOINTMENT.items()
    }


def change_responses(
    more_409: dict[str, str] | None = None, *, links: bool = True
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a change: 200 with its ETag and (unless the change ends
    the appointment's use, as entering it in error does) its links, and the problems;
    ``more_409`` names the change's own 409 problems and says why."""
    text = dict(PROBLEM_TEXT)
    for code, why in (more_409 or {}).items():
        text[409] += f"; `{code.replace('_', '-')}`: {why}"
    ok: dict[str, Any] = {
        "description": "The appointment after the change",
        "headers": {"ETag": ETAG},
    }
    if links:
        ok["links"] = appointment_links("id")
    return {200: ok, **{code: problem(why) for code, why in text.items()}}


def if_match(
    value: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Change only if the appointment is still at this version: the ETag of "
            'the last read, e.g. "3" (or the bare version, 3). Absent or *: whatever the '
            "stored version is.",
        ),
        header_schema({"pattern": IF_MATCH_PATTERN, "examples": ['"3"', "*"]}),
    ] = None,
) -> int | None:
    text = "*" if value is None else value.strip()
    if text == "*":
        return None
    match = _VERSION.fullmatch(text)
    if match is None:
        raise ProblemError(
            400,
            "invalid-if-match",
            "Invalid If-Match",
            'send the ETag of the appointment as it came, e.g. "3" (or *)',
        )
    return int(match.group(2))


AppointmentIdPath = Annotated[
    AppointmentId, Path(description="the appointment's id (a UUID)", examples=[EXAMPLE_ID])
]


def change(
    appointment_id: AppointmentIdPath,
    key: ChangeKeyDep,
    version: Annotated[int | None, Depends(if_match)],
) -> Change:
    return Change(appointment_id=appointment_id, idempotency_key=key, if_match=version)


ChangeDep = Annotated[Change, Depends(change)]


def answer(response: Response, appointment: Appointment, services: Services) -> AppointmentOut:
    response.headers["ETag"] = f'"{appointment.version}"'
    return AppointmentOut.of(appointment, services.journeys.of(appointment))


@dataclass(frozen=True)
class _StatusChange:
    action: StatusAction  # the path's last segment
    name: str  # the endpoint's, which names the OpenAPI operation
    summary: str
    description: str
    more_409: dict[str, str] = field(default_factory=dict)


STATUS_CHANGES = (
    _StatusChange("confirm", "confirm", "Confirm an appointment",
                  "SCHEDULED → CONFIRMED. Admin and staff."),
    _StatusChange("check-in", "check_in", "Check the patient in",
                  "SCHEDULED or CONFIRMED → CHECKED_IN. Admin, staff, and the appointment's "
                  "doctor."),
    _StatusChange("complete", "complete", "Complete an appointment",
                  "CHECKED_IN → COMPLETED. Admin, staff, and the appointment's doctor."),
    _StatusChange("no-show", "no_show", "Record a no-show",
                  "SCHEDULED or CONFIRMED → NO_SHOW, once the appointment's start time has "
                  "passed. Admin, staff, and the appointment's doctor.",
                  {"no_show_before_start": "the appointment has not started yet"}),
)  # fmt: skip


def _status_change_route(spec: _StatusChange) -> None:
    """POST /api/v1/appointments/{id}/<action>: one transaction, the appointment after it."""

    async def endpoint(
        change: ChangeDep,
        requester: RequesterDep,
        services: ServicesDep,
        response: Response,
        body: ChangeReason | None = None,
    ) -> AppointmentOut:
        command = ChangeStatus(
            **change.model_dump(), action=spec.action, reason=body.reason if body else None
        )
        return answer(response, await services.changes.change_status(command, requester), services)

    router.add_api_route(
        f"/{{appointment_id}}/{spec.action}",
        endpoint,
        methods=["POST"],
        name=spec.name,
        response_model=AppointmentOut,
        summary=spec.summary,
        description=spec.description,
        responses=change_responses(spec.more_409),
    )


for _spec in STATUS_CHANGES:
    _status_change_route(_spec)


def _saga_answer(response: Response, result: Appointment | SagaRunning, services: Services) -> Any:
    if isinstance(result, SagaRunning):
        accepted = SagaAccepted(
            appointment_id=result.appointment_id, workflow_id=result.workflow_id
        )
        return JSONResponse(
            accepted.model_dump(),
            status_code=202,
            headers={"Location": f"{router.prefix}/{result.appointment_id}", "Retry-After": "1"},
        )
    return answer(response, result, services)


_SAGA_RESPONSES = {
    **change_responses(),
    202: {
        "model": SagaAccepted,
        "description": "Still running; poll Location",
        "headers": {"Location": LOCATION, "Retry-After": RETRY_AFTER},
        "links": appointment_links("appointment_id"),
    },
    429: problem(
        "Too many bookings, cancellations and reschedules by this caller in a short time "
        "(`too-many-requests`); nothing was started. Retry-After says when to retry"
    ),
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
    appointment_id: AppointmentIdPath,
    body: CancelAppointment,
    call: SagaCallDep,
    response: Response,
) -> Any:
    command = Cancel(appointment_id=appointment_id, cancellation=body, idempotency_key=call.key)
    cancelled = await call.services.sagas.cancel(command, call.requester, call.wait)
    return _saga_answer(response, cancelled, call.services)


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
    appointment_id: AppointmentIdPath,
    body: RescheduleAppointment,
    call: SagaCallDep,
    response: Response,
) -> Any:
    command = Reschedule(appointment_id=appointment_id, new_time=body, idempotency_key=call.key)
    moved = await call.services.sagas.reschedule(command, call.requester, call.wait)
    return _saga_answer(response, moved, call.services)


@router.post(
    "/{appointment_id}/no-show/reversal",
    response_model=AppointmentOut,
    summary="Reverse a wrongly recorded no-show (saga)",
    description="The patient did come. Runs NoShowReversalWorkflow: a NO_SHOW recorded "
    "less than 24 h ago becomes CHECKED_IN or COMPLETED, as `to` says "
    "(appointment.no_show_reversed), then its no-show fee is voided at Billing and the void "
    "recorded (appointment.no_show_fee_voided). Admin and staff.",
    responses={
        **_SAGA_RESPONSES,
        **change_responses(
            {"no_show_reversal_closed": "the no-show was recorded more than 24 h ago"}
        ),
    },
)
async def reverse_no_show(
    appointment_id: AppointmentIdPath,
    body: NoShowReversal,
    call: SagaCallDep,
    response: Response,
) -> Any:
    command = ReverseNoShow(appointment_id=appointment_id, reversal=body, idempotency_key=call.key)
    reversed_ = await call.services.sagas.reverse_no_show(command, call.requester, call.wait)
    return _saga_answer(response, reversed_, call.services)
