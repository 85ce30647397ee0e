"""The GraphQL object types. Two views of an appointment on purpose:

- ``ScheduleEntry``: a row of the CQRS read view, what the queries answer; eventually
  consistent (a change shows once the projector caught up), denormalized with names.
- ``Appointment``: the write model as stored, what the mutations answer; strongly
  consistent, exactly the fields of REST's ``AppointmentOut`` (one source for both)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.graphql.context import GraphQLContext
from api.schemas import RUNS_SHOWN, AppointmentOut
from application import results
from domain import model
from domain.journey import NextAction, ReminderState
from domain.status import AppointmentStatus

Info = strawberry.Info[GraphQLContext, None]

# The domain's enum, as it is: GraphQL clients see exactly the statuses REST sends.
strawberry.enum(
    AppointmentStatus,
    description="PENDING (saga running) → SCHEDULED → CONFIRMED → CHECKED_IN → COMPLETED; "
    "terminal also CANCELLED, NO_SHOW, FAILED.",
)


strawberry.enum(
    ReminderState,
    description="SENT; DUE: it will fire at dueAt; SKIPPED: its moment passed unsent",
)
strawberry.enum(NextAction, description="What the appointment's journey does next.")


@strawberry.type(description="One reminder of the appointment's current start.")
class JourneyReminder:
    offset_minutes: int = strawberry.field(description="minutes before the start")
    due_at: datetime = strawberry.field(
        description="when it fires (or fired): the offset before the start, moved earlier "
        "out of the clinic's quiet hours"
    )
    state: ReminderState


@strawberry.type(
    description="The appointment's journey after booking: its reminders, the next action "
    "and when, computed from the stored appointment and the journey settings (REST's "
    "`journey`)."
)
class Journey:
    reminders: list[JourneyReminder] = strawberry.field(description="earliest first")
    next_action: NextAction | None = strawberry.field(
        description="null once nothing is left to do (checked in, or a terminal status)"
    )
    next_action_at: datetime | None
    no_show_check_at: datetime = strawberry.field(
        description="the start plus the grace time: still SCHEDULED or CONFIRMED then, it "
        "becomes NO_SHOW"
    )
    no_show_fee_cents: int = strawberry.field(
        description="invoiced for an automatic no-show; agreed at booking"
    )

    @classmethod
    def of(cls, journey: results.Journey | None) -> Journey | None:
        if journey is None:
            return None
        return cls(
            reminders=[
                JourneyReminder(offset_minutes=r.offset_minutes, due_at=r.due_at, state=r.state)
                for r in journey.reminders
            ],
            next_action=journey.next_action,
            next_action_at=journey.next_action_at,
            no_show_check_at=journey.no_show_check_at,
            no_show_fee_cents=journey.no_show_fee_cents,
        )


async def _entry_journey(root: ScheduleEntry, info: Info) -> Journey | None:
    journeys = info.context.services.journeys
    return Journey.of(await journeys.read(str(root.id), info.context.requester))


def _stored_journey(root: Appointment, info: Info) -> Journey | None:
    return Journey.of(info.context.services.journeys.of(root.stored))


@strawberry.type(description="One appointment in the read view (eventually consistent).")
class ScheduleEntry:
    id: strawberry.ID
    patient_id: strawberry.ID
    patient_name: str | None
    doctor_id: strawberry.ID
    doctor_name: str | None
    doctor_specialty: str | None
    day: date = strawberry.field(description="the clinic day of the start, in its time zone")
    start: datetime
    end: datetime
    duration_minutes: int
    timezone: str = strawberry.field(description="the clinic's IANA time zone")
    status: AppointmentStatus
    reason: str | None
    updated_at: datetime

    journey: Journey | None = strawberry.field(
        resolver=_entry_journey,
        description="Its journey: reminders, the next action and when; null while PENDING "
        "and for FAILED. Read from the stored appointment (strongly consistent), one read "
        "per entry: ask for it on `appointment` rather than on a long schedule.",
    )

    @classmethod
    def of(cls, entry: results.ScheduleEntry) -> ScheduleEntry:
        return cls(
            id=strawberry.ID(entry.id),
            patient_id=strawberry.ID(entry.patient_id),
            patient_name=entry.patient_name,
            doctor_id=strawberry.ID(entry.doctor_id),
            doctor_name=entry.doctor_name,
            doctor_specialty=entry.doctor_specialty,
            day=date.fromisoformat(entry.day),
            start=entry.start,
            end=entry.end,
            duration_minutes=entry.duration_minutes,
            timezone=entry.timezone,
            status=AppointmentStatus(entry.status),
            reason=entry.reason,
            updated_at=entry.updated_at,
        )


@strawberry.type(description="A free slot of a doctor: [start, end).")
class FreeSlot:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, slot: results.FreeSlot) -> FreeSlot:
        return cls(start=slot.start, end=slot.end)


@strawberry.type(
    description="An appointment as stored (strongly consistent): REST's appointment. "
    "`version` is its ETag."
)
class Appointment:
    id: strawberry.ID
    patient_id: strawberry.ID
    doctor_id: strawberry.ID
    start: datetime
    end: datetime
    duration_minutes: int
    timezone: str
    status: AppointmentStatus
    fhir_status: str = strawberry.field(description="the FHIR Appointment.status it maps to")
    reason: str | None
    notes: str | None
    invoice_id: str | None
    hold_id: str | None
    booking_workflow_id: str | None = strawberry.field(
        description="the booking saga's run in Temporal" + RUNS_SHOWN
    )
    cancellation_free_hours: int
    cancellation_fee_cents: int
    late_reschedule_counts: bool = strawberry.field(
        description="whether a reschedule inside the late window costs the fee too"
    )
    fee_invoice_id: str | None = strawberry.field(
        description="the invoice of the late fee the last late reschedule charged"
    )
    no_show_at: datetime | None = strawberry.field(
        description="when the no-show was recorded; staff may reverse it for 24 h"
    )
    no_show_invoice_id: str | None = strawberry.field(
        description="the no-show fee's invoice at Billing; null once a reversal voided it"
    )
    version: int
    created_at: datetime
    updated_at: datetime
    stored: strawberry.Private[model.Appointment]
    journey: Journey | None = strawberry.field(
        resolver=_stored_journey,
        description="its reminders, the next action and when (computed from the stored "
        "appointment and the journey settings); null while PENDING and for FAILED",
    )

    @classmethod
    def of(cls, appointment: model.Appointment) -> Appointment:
        # Through REST's AppointmentOut, so both APIs show the same fields, the same way;
        # the journey when asked, from the resolver's context (the deployment's rules).
        out = AppointmentOut.of(appointment, None).model_dump(exclude={"journey"})
        ids = {
            "id": strawberry.ID(out["id"]),
            "patient_id": strawberry.ID(out["patient_id"]),
            "doctor_id": strawberry.ID(out["doctor_id"]),
        }
        return cls(**(out | ids), stored=appointment)


@strawberry.type(
    description="The answer of a booking, cancellation or reschedule. `pending` true: the "
    "saga still runs after the wait budget (REST answers 202) and `appointment` is null; "
    "a pending booking is a PENDING appointment. Poll `appointment(id)` (or REST's "
    "GET /api/v1/appointments/{id}); sending the same idempotencyKey again joins the run."
)
class AppointmentOutcome:
    appointment_id: strawberry.ID
    pending: bool
    workflow_id: str | None = strawberry.field(
        description="the saga run, while it runs" + RUNS_SHOWN
    )
    step: str | None = strawberry.field(description="the booking saga's step, while it runs")
    appointment: Appointment | None = strawberry.field(description="as stored, once done")

    @classmethod
    def of(cls, answer: model.Appointment | results.SagaRunning) -> AppointmentOutcome:
        if isinstance(answer, results.SagaRunning):
            return cls(
                appointment_id=strawberry.ID(answer.appointment_id),
                pending=True,
                workflow_id=answer.workflow_id,
                step=answer.step,
                appointment=None,
            )
        return cls.done(answer)

    @classmethod
    def done(cls, appointment: model.Appointment) -> AppointmentOutcome:
        return cls(
            appointment_id=strawberry.ID(appointment.id),
            pending=False,
            workflow_id=None,
            step=None,
            appointment=Appointment.of(appointment),
        )
