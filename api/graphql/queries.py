"""The queries, served from the read view (``projections.queries.ScheduleQueries``).

Each resolver authorizes through ``api.security.permissions``, calls one read, shapes the
answer. The read view is eventually consistent: a change shows once the projector has
applied its event; the mutations answer the stored appointment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from api.graphql.context import GraphQLContext
from api.graphql.types import FreeSlot, ScheduleEntry
from api.problems import ProblemError
from api.security.permissions import (
    Action,
    Owners,
    authorize,
    doctor_seen_by,
    ensure_may_read_schedule,
)
from domain.errors import AppointmentNotFound, DoctorNotFound
from domain.status import AppointmentStatus
from projections.queries import ScheduleEntry as Row

Info = strawberry.Info[GraphQLContext, None]
From = Annotated[
    datetime, strawberry.argument(name="from", description="starts at or after (with offset)")
]
To = Annotated[datetime, strawberry.argument(name="to", description="starts before (with offset)")]
Statuses = Annotated[
    list[AppointmentStatus] | None,
    strawberry.argument(description="only these statuses; all (but FAILED) when absent"),
]


def shown(rows: list[Row], statuses: list[AppointmentStatus] | None) -> list[ScheduleEntry]:
    return [ScheduleEntry.of(row) for row in rows if statuses is None or row.status in statuses]


async def doctor_schedule(
    info: Info,
    doctor_id: strawberry.ID,
    start_from: From,
    start_to: To,
    statuses: Statuses = None,
) -> list[ScheduleEntry] | None:
    ensure_may_read_schedule(info.context.principal, doctor_id)
    rows = await info.context.schedule.doctor_schedule(doctor_id, start_from, start_to)
    return shown(rows, statuses)


async def patient_appointments(
    info: Info,
    patient_id: strawberry.ID,
    start_from: From,
    start_to: To,
    statuses: Statuses = None,
) -> list[ScheduleEntry] | None:
    doctor_id = doctor_seen_by(info.context.principal, patient_id)
    rows = await info.context.schedule.patient_appointments(
        patient_id, start_from, start_to, doctor_id=doctor_id
    )
    return shown(rows, statuses)


async def appointment(
    info: Info, appointment_id: Annotated[strawberry.ID, strawberry.argument(name="id")]
) -> ScheduleEntry | None:
    who = info.context.principal
    authorize(who, Action.READ)
    entry = await info.context.schedule.appointment(appointment_id)
    if entry is None:
        raise AppointmentNotFound(f"no appointment {appointment_id}")
    authorize(who, Action.READ, Owners(entry.patient_id, entry.doctor_id))
    return ScheduleEntry.of(entry)


async def free_slots(info: Info, doctor_id: strawberry.ID, day: date) -> list[FreeSlot] | None:
    authorize(info.context.principal, Action.FREE_SLOTS)
    try:
        slots = await info.context.schedule.free_slots(doctor_id, day)
    except DoctorNotFound as error:
        # The doctor is what is asked about, not part of a booking: NOT_FOUND, as REST's 404.
        raise ProblemError(404, error.code, error.title, error.detail) from None
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
