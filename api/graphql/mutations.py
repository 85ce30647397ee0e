"""The mutations: the very use cases REST calls (book, cancel, reschedule, confirm), with the same
command models, the same Idempotency-Key rule (here a required argument) and REST's wait
budget (``Prefer`` honoured too). Past the budget a mutation answers ``pending: true``, as
REST answers 202.

There is no ``expectedVersion``: REST's cancel and reschedule take no If-Match either
(each saga commits only on the version it read when it started; see the README)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry
from pydantic import BaseModel

from api.graphql.context import GraphQLContext
from api.graphql.inputs import (
    BookAppointmentInput,
    RescheduleAppointmentInput,
    arguments,
    command,
)
from api.graphql.types import AppointmentOutcome
from api.graphql.waitlist import (
    OfferAcceptance,
    WaitlistEntry,
    accept_offer,
    decline_offer,
    join_waitlist,
    leave_waitlist,
)
from application import identifiers
from application.access import Requester
from application.commands import Book, Cancel, ChangeStatus, Reschedule, ReverseNoShow
from application.results import SagaRunning
from domain import model
from domain.status import AppointmentStatus

Info = strawberry.Info[GraphQLContext, None]
AppointmentId = Annotated[strawberry.ID, strawberry.argument(name="id")]
IdempotencyKey = Annotated[
    str,
    strawberry.argument(
        description="Makes the mutation safe to retry: the same key always gives the same "
        f"outcome, and never a second saga. {identifiers.KEY_RULE} (use a UUID)."
    ),
]
# Where a command's field is not its argument's camelCase name ("": left out).
_ARGUMENTS = {
    "appointment_id": "id",
    "appointment": "input",
    "new_time": "input",
    "cancellation": "",
    "reversal": "",
}


C = TypeVar("C", bound=BaseModel)
UseCase = Callable[[C, Requester, float], Awaitable[model.Appointment | SagaRunning]]


async def _run_saga(
    info: Info, use: UseCase[C], kind: type[C], key: str, values: dict[str, Any]
) -> AppointmentOutcome:
    """The saga's command from the arguments (the key checked first, by REST's rule), run
    by the use case within the request's wait budget."""
    values |= {"idempotency_key": identifiers.idempotency_key(key)}
    context = info.context
    answer = await use(command(kind, values, _ARGUMENTS), context.requester, context.wait_seconds)
    return AppointmentOutcome.of(answer)


async def book_appointment(
    info: Info, input: BookAppointmentInput, idempotency_key: IdempotencyKey
) -> AppointmentOutcome | None:
    use = info.context.services.booking.book
    return await _run_saga(info, use, Book, idempotency_key, {"appointment": arguments(input)})


async def cancel_appointment(
    info: Info,
    appointment_id: AppointmentId,
    idempotency_key: IdempotencyKey,
    reason: str | None = None,
) -> AppointmentOutcome | None:
    values = {"appointment_id": appointment_id, "cancellation": {"reason": reason}}
    use = info.context.services.sagas.cancel
    return await _run_saga(info, use, Cancel, idempotency_key, values)


async def reschedule_appointment(
    info: Info,
    appointment_id: AppointmentId,
    input: RescheduleAppointmentInput,
    idempotency_key: IdempotencyKey,
) -> AppointmentOutcome | None:
    values = {"appointment_id": appointment_id, "new_time": arguments(input)}
    use = info.context.services.sagas.reschedule
    return await _run_saga(info, use, Reschedule, idempotency_key, values)


async def confirm_appointment(
    info: Info,
    appointment_id: AppointmentId,
    idempotency_key: IdempotencyKey,
    reason: str | None = None,
) -> AppointmentOutcome | None:
    values = {
        "appointment_id": appointment_id,
        "action": "confirm",
        "reason": reason,
        "idempotency_key": identifiers.idempotency_key(idempotency_key),
    }
    context = info.context
    confirm = command(ChangeStatus, values, _ARGUMENTS)
    return AppointmentOutcome.of(
        await context.services.changes.change_status(confirm, context.requester)
    )


async def reverse_no_show(
    info: Info,
    appointment_id: AppointmentId,
    to: Annotated[
        AppointmentStatus,
        strawberry.argument(description="what the appointment becomes: CHECKED_IN or COMPLETED"),
    ],
    idempotency_key: IdempotencyKey,
    reason: str | None = None,
) -> AppointmentOutcome | None:
    values = {"appointment_id": appointment_id, "reversal": {"to": to.value, "reason": reason}}
    use = info.context.services.sagas.reverse_no_show
    return await _run_saga(info, use, ReverseNoShow, idempotency_key, values)


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
    confirm_appointment: AppointmentOutcome | None = strawberry.mutation(
        resolver=confirm_appointment,
        description="Confirm: SCHEDULED to CONFIRMED, as POST /api/v1/appointments/{id}/confirm "
        "(staff and admin, and a patient their own).",
    )
    reschedule_appointment: AppointmentOutcome | None = strawberry.mutation(
        resolver=reschedule_appointment,
        description="Move to a new time: runs the reschedule saga, as "
        "POST /api/v1/appointments/{id}/reschedule. On failure the original stays intact.",
    )
    reverse_no_show: AppointmentOutcome | None = strawberry.mutation(
        resolver=reverse_no_show,
        description="Reverse a wrongly recorded no-show within 24 h (the patient did come): "
        "runs the no-show reversal saga, as POST /api/v1/appointments/{id}/no-show/reversal. "
        "Admin and staff.",
    )
    join_waitlist: WaitlistEntry | None = strawberry.mutation(
        resolver=join_waitlist,
        description="Put a patient on the waitlist, as POST /api/v1/waitlist: a patient "
        "themself, staff and admin anyone (URGENT only they).",
    )
    leave_waitlist: WaitlistEntry | None = strawberry.mutation(
        resolver=leave_waitlist,
        description="Leave the waitlist, as DELETE /api/v1/waitlist/{id}: an open offer is "
        "withdrawn and goes to the next patient.",
    )
    accept_offer: OfferAcceptance | None = strawberry.mutation(
        resolver=accept_offer,
        description="Accept a waitlist offer, as POST /api/v1/waitlist/offers/{id}/accept: "
        "the offered slot is booked (the booking saga, in the round's hold).",
    )
    decline_offer: WaitlistEntry | None = strawberry.mutation(
        resolver=decline_offer,
        description="Decline a waitlist offer, as POST /api/v1/waitlist/offers/{id}/decline: "
        "the entry waits again, the slot goes to the next patient.",
    )
