"""The mutations: the very service calls REST makes (``BookingService.book``,
``AppointmentSagas.cancel`` / ``.reschedule``), with REST's input models, REST's
Idempotency-Key rules (here a required argument) and REST's wait budget (``Prefer``
honoured too). Past the budget a mutation answers ``pending: true``, as REST answers 202.

There is no ``expectedVersion``: REST's cancel and reschedule take no If-Match either
(each saga commits only on the version it read when it started; see the README)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api import deps
from api.graphql.context import GraphQLContext
from api.graphql.inputs import (
    BookAppointmentInput,
    RescheduleAppointmentInput,
    arguments,
    to_model,
)
from api.graphql.types import AppointmentOutcome
from api.schemas import BookAppointment, CancelAppointment, RescheduleAppointment
from api.security.permissions import ensure_may_book_for

Info = strawberry.Info[GraphQLContext, None]
AppointmentId = Annotated[strawberry.ID, strawberry.argument(name="id")]
IdempotencyKey = Annotated[
    str,
    strawberry.argument(
        description="Makes the mutation safe to retry: the same key always gives the same "
        "outcome, and never a second saga. 1-128 of A-Z a-z 0-9 _ . : - (use a UUID)."
    ),
]


async def book_appointment(
    info: Info, input: BookAppointmentInput, idempotency_key: IdempotencyKey
) -> AppointmentOutcome | None:
    context = info.context
    key = deps.idempotency_key(idempotency_key)
    body = to_model(BookAppointment, arguments(input), "input")
    ensure_may_book_for(context.principal, body.patient_id)
    answer = await context.booking.book(body, key, context.caller, context.wait_seconds)
    return AppointmentOutcome.of_booking(answer)


async def cancel_appointment(
    info: Info,
    appointment_id: AppointmentId,
    idempotency_key: IdempotencyKey,
    reason: str | None = None,
) -> AppointmentOutcome | None:
    context = info.context
    key = deps.idempotency_key(idempotency_key)
    body = to_model(CancelAppointment, {"reason": reason})
    result = await context.sagas.cancel(
        appointment_id, body, context.principal, context.caller, key, context.wait_seconds
    )
    return AppointmentOutcome.of_change(result)


async def reschedule_appointment(
    info: Info,
    appointment_id: AppointmentId,
    input: RescheduleAppointmentInput,
    idempotency_key: IdempotencyKey,
) -> AppointmentOutcome | None:
    context = info.context
    key = deps.idempotency_key(idempotency_key)
    body = to_model(RescheduleAppointment, arguments(input), "input")
    result = await context.sagas.reschedule(
        appointment_id, body, context.principal, context.caller, key, context.wait_seconds
    )
    return AppointmentOutcome.of_change(result)


@strawberry.type
class Mutation:
    book_appointment: AppointmentOutcome | None = strawberry.mutation(
        resolver=book_appointment,
        description="Book: runs the booking saga (patient, availability, hold, persist, "
        "invoice), as POST /api/v1/appointments.",
    )
    cancel_appointment: AppointmentOutcome | None = strawberry.mutation(
        resolver=cancel_appointment,
        description="Cancel: runs the cancellation saga, as POST /api/v1/appointments/{id}/cancel.",
    )
    reschedule_appointment: AppointmentOutcome | None = strawberry.mutation(
        resolver=reschedule_appointment,
        description="Move to a new time: runs the reschedule saga, as "
        "POST /api/v1/appointments/{id}/reschedule. On failure the original stays intact.",
    )
