"""The waitlist over GraphQL, mirroring REST's /api/v1/waitlist: the queries ``waitlist``
and ``waitlistEntry``, the mutations ``joinWaitlist``, ``leaveWaitlist``, ``acceptOffer``
and ``declineOffer``. The same use cases (application/waitlist.py), the same command
models, the same errors; an entry shows the fields of REST's ``WaitlistEntryOut``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.context import GraphQLContext
from api.graphql.inputs import appointment_id as checked_id
from api.graphql.inputs import arguments, command
from api.graphql.types import Appointment
from api.waitlist_schemas import OfferOut, WaitlistEntryOut
from application import identifiers
from application.commands import JoinWaitlist, ListWaitlist
from application.waitlist import OfferBooking
from domain import waitlist

Info = strawberry.Info[GraphQLContext, None]

strawberry.enum(
    waitlist.EntryStatus,
    name="WaitlistEntryStatus",
    description="WAITING; OFFERED (an offer is open); FULFILLED (booked through an "
    "accepted offer); LEFT (taken off, or its window passed).",
)
strawberry.enum(waitlist.OfferStatus, description="Where an offer to a waitlist entry stands.")
strawberry.enum(waitlist.Priority, description="URGENT goes first; only staff and admin set it.")
strawberry.enum(waitlist.LeftBecause, description="Why an entry left the waitlist.")

# Where a command's field is not its argument's camelCase name ("": left out).
_ARGUMENTS = {"entry": "input", "limit": "first", "cursor": "after"}


@strawberry.type(description="An offer of a freed slot to a waitlist entry.")
class WaitlistOffer:
    id: strawberry.ID
    start: datetime
    end: datetime
    expires_at: datetime = strawberry.field(description="accept or decline before this")
    status: waitlist.OfferStatus
    offered_at: datetime
    closed_at: datetime | None
    appointment_id: strawberry.ID | None = strawberry.field(
        description="the booking, once accepted"
    )

    @classmethod
    def of(cls, offer: OfferOut) -> WaitlistOffer:
        values = offer.model_dump()
        return cls(**values | {"status": waitlist.OfferStatus(values["status"])})


@strawberry.type(
    description="A patient waiting for a freed slot of a doctor: REST's waitlist entry."
)
class WaitlistEntry:
    id: strawberry.ID
    patient_id: strawberry.ID
    doctor_id: strawberry.ID
    earliest_start: datetime
    latest_start: datetime
    duration_minutes: int
    priority: waitlist.Priority
    status: waitlist.EntryStatus
    timezone: str = strawberry.field(description="the clinic's IANA time zone")
    note: str | None
    joined_at: datetime
    updated_at: datetime | None
    version: int
    offer: WaitlistOffer | None = strawberry.field(description="the open offer, if any")
    offers: list[WaitlistOffer] = strawberry.field(description="every offer, oldest first")
    appointment_id: strawberry.ID | None = strawberry.field(
        description="the booking that fulfilled it"
    )
    left_because: waitlist.LeftBecause | None

    @classmethod
    def of(cls, entry: waitlist.WaitlistEntry) -> WaitlistEntry:
        out = WaitlistEntryOut.of(entry)
        offers = {o.id: WaitlistOffer.of(o) for o in (OfferOut.of(o) for o in entry.offers)}
        return cls(
            id=strawberry.ID(out.id),
            patient_id=strawberry.ID(out.patient_id),
            doctor_id=strawberry.ID(out.doctor_id),
            earliest_start=out.earliest_start,
            latest_start=out.latest_start,
            duration_minutes=out.duration_minutes,
            priority=entry.priority,
            status=entry.status,
            timezone=out.timezone,
            note=out.note,
            joined_at=out.joined_at,
            updated_at=out.updated_at,
            version=out.version,
            offer=offers[out.offer.id] if out.offer else None,
            offers=list(offers.values()),
            appointment_id=strawberry.ID(out.appointment_id) if out.appointment_id else None,
            left_because=entry.left_because,
        )


@strawberry.type(description="One page of waitlist entries, by (joinedAt, id).")
class WaitlistPage:
    items: list[WaitlistEntry]
    next_cursor: str | None = strawberry.field(
        description="pass as `after` for the next page; null on the last page"
    )


@strawberry.type(
    description="The answer of an accepted offer. `pending` true: the booking still runs "
    "after the wait budget (REST answers 202) and `appointment` is null; read "
    "`waitlistEntry(id: entryId)` until it names the appointment (`appointmentId`)."
)
class OfferAcceptance:
    offer_id: strawberry.ID
    entry_id: strawberry.ID | None = strawberry.field(
        description="the entry to read while the booking runs; null once booked"
    )
    pending: bool
    appointment: Appointment | None = strawberry.field(description="the booked appointment")


@strawberry.input(description="A waitlist entry: REST's POST /api/v1/waitlist body.")
class JoinWaitlistInput:
    patient_id: strawberry.ID = strawberry.field(description="the Patient Service's id")
    doctor_id: strawberry.ID = strawberry.field(description="the Doctor Service's id")
    earliest_start: datetime = strawberry.field(description="the earliest acceptable start")
    latest_start: datetime = strawberry.field(
        description="the latest acceptable start (inclusive); in the future"
    )
    duration_minutes: int = strawberry.field(description="a multiple of 5 minutes")
    priority: waitlist.Priority = strawberry.field(
        default=waitlist.Priority.ROUTINE, description="URGENT: staff and admin only"
    )
    note: str | None = None


IdempotencyKey = Annotated[
    str,
    strawberry.argument(
        description="Makes the mutation safe to retry: the same key always answers the same "
        f"entry. {identifiers.KEY_RULE} (use a UUID)."
    ),
]
EntryId = Annotated[strawberry.ID, strawberry.argument(name="id")]
Statuses = Annotated[
    list[waitlist.EntryStatus] | None,
    strawberry.argument(description="only these statuses; all when absent"),
]


async def waitlist_page(
    info: Info,
    patient_id: strawberry.ID | None = None,
    doctor_id: strawberry.ID | None = None,
    status: Statuses = None,
    first: int = 20,
    after: str | None = None,
) -> WaitlistPage | None:
    values = {
        "patient_id": patient_id,
        "doctor_id": doctor_id,
        "status": [s.value for s in status or ()],
        "limit": first,
        "cursor": after,
    }
    query = command(ListWaitlist, {k: v for k, v in values.items() if v is not None}, _ARGUMENTS)
    page = await info.context.services.waitlist.list(query, info.context.requester)
    return WaitlistPage(
        items=[WaitlistEntry.of(e) for e in page.items], next_cursor=page.next_cursor
    )


async def waitlist_entry(info: Info, entry_id: EntryId) -> WaitlistEntry | None:
    use = info.context.services.waitlist.read
    return WaitlistEntry.of(await use(checked_id(entry_id), info.context.requester))


async def join_waitlist(
    info: Info, input: JoinWaitlistInput, idempotency_key: IdempotencyKey
) -> WaitlistEntry | None:
    entry = arguments(input) | {"priority": input.priority.value}
    values = {"entry": entry, "idempotency_key": identifiers.idempotency_key(idempotency_key)}
    join = command(JoinWaitlist, values, _ARGUMENTS)
    return WaitlistEntry.of(await info.context.services.waitlist.join(join, info.context.requester))


async def leave_waitlist(info: Info, entry_id: EntryId) -> WaitlistEntry | None:
    use = info.context.services.waitlist.leave
    return WaitlistEntry.of(await use(checked_id(entry_id), info.context.requester))


async def accept_offer(info: Info, offer_id: strawberry.ID) -> OfferAcceptance | None:
    context = info.context
    offer = checked_id(offer_id)
    booked = await context.services.waitlist.accept(offer, context.requester, context.wait_seconds)
    if isinstance(booked, OfferBooking):
        return OfferAcceptance(
            offer_id=strawberry.ID(booked.offer_id),
            entry_id=strawberry.ID(booked.entry_id),
            pending=True,
            appointment=None,
        )
    return OfferAcceptance(
        offer_id=strawberry.ID(offer),
        entry_id=None,
        pending=False,
        appointment=Appointment.of(booked),
    )


async def decline_offer(info: Info, offer_id: strawberry.ID) -> WaitlistEntry | None:
    use = info.context.services.waitlist.decline
    return WaitlistEntry.of(await use(checked_id(offer_id), info.context.requester))
