"""/api/v1/appointments: book, list, read, edit, enter-in-error, and read the history.
The status changes (confirm, check-in, ...) are in ``api/routes/transitions.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from api.deps import RequesterDep, SagaCallDep, ServicesDep
from api.routes.transitions import (
    ETAG,
    LOCATION,
    RETRY_AFTER,
    AppointmentIdPath,
    ChangeDep,
    answer,
    appointment_links,
    change_responses,
    header,
    problem,
)
from api.schemas import (
    AppointmentHistory,
    AppointmentOut,
    AppointmentPage,
    BookAppointment,
    BookingAccepted,
    EditAppointment,
    EventOut,
    PendingAppointment,
)
from application.commands import Book, Edit, EnterInError, HistoryPage, ListAppointments
from application.results import PendingBooking, SagaRunning

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])


def _problems(
    *codes: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """Problem responses for the OpenAPI document; ``described`` replaces the booking's
    descriptions of some codes."""
    text = {
        400: "Bad header (Idempotency-Key)",
        401: "No token, or an invalid or expired one",
        403: "The caller's role may not do this",
        402: "Billing refused the invoice",
        404: "Not found",
        409: "The slot is taken (or the booking was cancelled); or the patient already holds "
        "the most active upcoming appointments a patient may (`patient-cap-reached`)",
        413: "The request body is too large (over the configured limit, 64 KiB by default)",
        422: "Invalid input, an unknown patient or doctor, a slot the doctor does not offer, "
        "or an Idempotency-Key reused with another request",
        429: "Too many bookings, cancellations and reschedules by this caller in a short "
        "time (`too-many-requests`); nothing was started. Retry-After says when to retry",
        503: "A peer stayed unavailable; the saga compensated and nothing was booked",
    }
    text |= described or {}
    return {code: problem(text[code]) for code in codes}


IDEMPOTENCY_KEY = header("the booking's key: the one sent, or the one generated when none was")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentOut,
    summary="Book an appointment",
    description="Runs the booking saga (patient check, availability, slot hold, "
    "persistence, invoice) and answers once it finished, or 202 if it still runs when the "
    "wait budget is spent.",
    responses={
        201: {
            "description": "Booked: SCHEDULED, invoiced; or, under the billing outage policy "
            "`retry` while Billing is down, SCHEDULED with `invoice_id` null until Billing "
            "is back",
            "headers": {"Location": LOCATION, "Idempotency-Key": IDEMPOTENCY_KEY},
            "links": appointment_links("id"),
        },
        202: {
            "model": BookingAccepted,
            "description": "Still booking; poll Location",
            "headers": {
                "Location": LOCATION,
                "Retry-After": RETRY_AFTER,
                "Idempotency-Key": IDEMPOTENCY_KEY,
            },
            "links": appointment_links("appointment_id"),
        },
        **_problems(400, 401, 402, 403, 409, 413, 422, 429, 503),
    },
)
async def book_appointment(body: BookAppointment, response: Response, call: SagaCallDep) -> Any:
    command = Book(appointment=body, idempotency_key=call.key)
    booked = await call.services.booking.book(command, call.requester, call.wait)
    headers = {"Idempotency-Key": call.key}
    if not isinstance(booked, SagaRunning):
        response.headers.update(headers | {"Location": f"{router.prefix}/{booked.id}"})
        return AppointmentOut.of(booked, call.services.journeys.of(booked))
    accepted = BookingAccepted(
        appointment_id=booked.appointment_id, step=booked.step, workflow_id=booked.workflow_id
    )
    location = f"{router.prefix}/{booked.appointment_id}"
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
    responses={
        200: {
            "description": "The appointment; its ETag (the version) serves If-Match. A "
            "PENDING placeholder has none.",
            "headers": {"ETag": ETAG | {"required": False}},
        },
        **_problems(401, 403, 404, 422, described={422: "The id is not a UUID"}),
    },
)
async def get_appointment(
    appointment_id: AppointmentIdPath,
    requester: RequesterDep,
    services: ServicesDep,
    response: Response,
) -> AppointmentOut | PendingAppointment:
    found = await services.booking.read(appointment_id, requester)
    if isinstance(found, PendingBooking):
        return PendingAppointment.of(found)
    return answer(response, found, services)


@router.get(
    "",
    response_model=AppointmentPage,
    summary="List appointments",
    description="Appointments ordered by (start, id), one page at a time: pass `next_cursor` "
    "as `cursor` until it is null. `status` may be repeated; `from` and `to` select starts "
    "in [from, to) and need a UTC offset; `limit` is 1-100 (default 20), a larger one is "
    "refused. A patient sees only their own appointments and a doctor only theirs: a "
    "filter naming someone else selects nothing.",
    responses=_problems(
        401,
        403,
        422,
        described={
            422: "An unknown parameter or status, a time without an offset, from not "
            "before to, a limit out of 1-100, or a cursor this API did not issue"
        },
    ),
)
async def list_appointments(
    query: Annotated[ListAppointments, Query()], requester: RequesterDep, services: ServicesDep
) -> AppointmentPage:
    page = await services.reads.page(query, requester)
    return AppointmentPage(
        items=[AppointmentOut.of(a, services.journeys.of(a)) for a in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{appointment_id}/history",
    response_model=AppointmentHistory,
    summary="Read an appointment's history",
    description="Every change of the appointment, oldest first: its event store, one page "
    "at a time as the list: pass `next_cursor` as `cursor` until it is null. `limit` is "
    "1-100 (default 20), a larger one is refused.",
    responses=_problems(
        401,
        403,
        404,
        422,
        described={
            422: "The id is not a UUID, an unknown parameter, a limit out of 1-100, or a "
            "cursor this API did not issue"
        },
    ),
)
async def get_history(
    appointment_id: AppointmentIdPath,
    page: Annotated[HistoryPage, Query()],
    requester: RequesterDep,
    services: ServicesDep,
) -> AppointmentHistory:
    found = await services.reads.history(appointment_id, requester, page)
    return AppointmentHistory(
        appointment_id=appointment_id,
        events=[EventOut.of(e) for e in found.events],
        next_cursor=found.next_cursor,
    )


@router.patch(
    "/{appointment_id}",
    response_model=AppointmentOut,
    summary="Edit reason or notes",
    description="Changes the free-text fields only: a field left out stays, null clears "
    "it. Not of an entered-in-error (FAILED) appointment. Admin, staff, and the "
    "appointment's patient.",
    responses=change_responses(),
)
async def edit_appointment(
    body: EditAppointment,
    change: ChangeDep,
    requester: RequesterDep,
    services: ServicesDep,
    response: Response,
) -> AppointmentOut:
    command = Edit(**change.model_dump(), edit=body)
    return answer(response, await services.changes.edit(command, requester), services)


@router.delete(
    "/{appointment_id}",
    response_model=AppointmentOut,
    summary="Mark an appointment entered-in-error",
    description="For a record that should never have existed. It is kept, with status "
    "FAILED (FHIR entered-in-error), and answered. One that still holds its slot "
    "(PENDING, SCHEDULED, CONFIRMED, CHECKED_IN) must be cancelled first. Admin only.",
    responses=change_responses(links=False),
)
async def delete_appointment(
    change: ChangeDep, requester: RequesterDep, services: ServicesDep, response: Response
) -> AppointmentOut:
    command = EnterInError(**change.model_dump())
    return answer(response, await services.changes.enter_in_error(command, requester), services)
