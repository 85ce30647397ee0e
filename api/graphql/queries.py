"""The queries, served from the read view by the application layer's ``Schedule``.

Each resolver builds its query's command from the arguments, calls one use case (which
authorizes the caller), and shapes the answer. The read view is eventually consistent: a
change shows once the projector has applied its event; the mutations answer the stored
appointment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import strawberry

from api.graphql.context import GraphQLContext
from api.graphql.inputs import appointment_id as checked_id
from api.graphql.inputs import command
from api.graphql.types import FreeSlot, ScheduleEntry
from api.graphql.waitlist import WaitlistEntry, WaitlistPage, waitlist_entry, waitlist_page
from application import results
from application.access import Requester
from application.commands import DoctorSchedule, FreeSlots, PatientAppointments, Window
from domain.status import AppointmentStatus

Info = strawberry.Info[GraphQLContext, None]
From = Annotated[
    datetime, strawberry.argument(name="from", description="starts at or after (with offset)")
]
To = Annotated[datetime, strawberry.argument(name="to", description="starts before (with offset)")]
Statuses = Annotated[
    list[AppointmentStatus] | None,
    strawberry.argument(description="only these statuses; all (but FAILED) when absent"),
]


# Where a query's field is not its argument's camelCase name.
_ARGUMENTS = {"start_from": "from", "start_to": "to"}


W = TypeVar("W", bound=Window)
WindowRead = Callable[[W, Requester], Awaitable[list[results.ScheduleEntry]]]


async def _entries(
    info: Info, read: WindowRead[W], kind: type[W], values: dict[str, Any]
) -> list[ScheduleEntry]:
    """The entries a window query of the read view answers, its arguments checked by the
    query's command."""
    rows = await read(command(kind, values, _ARGUMENTS), info.context.requester)
    return [ScheduleEntry.of(row) for row in rows]


async def doctor_schedule(
    info: Info,
    doctor_id: strawberry.ID,
    start_from: From,
    start_to: To,
    statuses: Statuses = None,
) -> list[ScheduleEntry] | None:
    values = {"start_from": start_from, "start_to": start_to, "statuses": statuses}
    read = info.context.services.schedule.doctor_schedule
    return await _entries(info, read, DoctorSchedule, values | {"doctor_id": doctor_id})


async def patient_appointments(
    info: Info,
    patient_id: strawberry.ID,
    start_from: From,
    start_to: To,
    statuses: Statuses = None,
) -> list[ScheduleEntry] | None:
    values = {"start_from": start_from, "start_to": start_to, "statuses": statuses}
    read = info.context.services.schedule.patient_appointments
    return await _entries(info, read, PatientAppointments, values | {"patient_id": patient_id})


async def appointment(
    info: Info, appointment_id: Annotated[strawberry.ID, strawberry.argument(name="id")]
) -> ScheduleEntry | None:
    schedule = info.context.services.schedule
    entry = await schedule.appointment(checked_id(appointment_id), info.context.requester)
    return ScheduleEntry.of(entry)


async def free_slots(info: Info, doctor_id: strawberry.ID, day: date) -> list[FreeSlot] | None:
    query = command(FreeSlots, {"doctor_id": doctor_id, "day": day}, {})
    slots = await info.context.services.schedule.free_slots(query, info.context.requester)
    return [FreeSlot.of(slot) for slot in slots]


# Root fields are nullable: one refused field answers null with its error, and the
# other fields of the same operation still answer.
@strawberry.type
class Query:
    doctor_schedule: list[ScheduleEntry] | None = strawberry.field(
        resolver=doctor_schedule,
        description="A doctor's appointments starting in [from, to), by start.",
    )
    patient_appointments: list[ScheduleEntry] | None = strawberry.field(
        resolver=patient_appointments,
        description="A patient's appointments starting in [from, to), by start. A doctor "
        "sees only those with them.",
    )
    appointment: ScheduleEntry | None = strawberry.field(
        resolver=appointment,
        description="One appointment from the read view; null with a NOT_FOUND error when "
        "there is none, or it is someone else's (the two read alike).",
    )
    free_slots: list[FreeSlot] | None = strawberry.field(
        resolver=free_slots, description="The doctor's free slots on a clinic day (YYYY-MM-DD)."
    )
    waitlist: WaitlistPage | None = strawberry.field(
        resolver=waitlist_page,
        description="Waitlist entries by (joinedAt, id), `first` (1-100) at a time from "
        "`after` (the last page's nextCursor), as GET /api/v1/waitlist. A patient sees their "
        "own, a doctor those for them: a filter naming someone else selects nothing.",
    )
    waitlist_entry: WaitlistEntry | None = strawberry.field(
        resolver=waitlist_entry,
        description="One waitlist entry with its open offer, as GET /api/v1/waitlist/{id}; "
        "null with a NOT_FOUND error when there is none or it is someone else's.",
    )
