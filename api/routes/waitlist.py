"""/api/v1/waitlist: join, list, read and leave the waitlist, and answer an offer (accept:
the offered slot is booked; decline: the next patient gets it). The rules are the use
cases' (application/waitlist.py); here the bodies, the answers and their documentation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import JSONResponse

from api.deps import BookingKeyDep, RequesterDep, ServicesDep, WaitDep
from api.routes.transitions import LOCATION, RETRY_AFTER, appointment_links, header, problem
from api.schemas import AppointmentOut
from api.waitlist_schemas import (
    EXAMPLE_ID,
    EXAMPLE_OFFER_ID,
    OfferBookingAccepted,
    WaitlistEntryOut,
    WaitlistPage,
    WaitlistRequest,
)
from application.commands import JoinWaitlist, ListWaitlist, WaitlistId
from application.waitlist import OfferBooking

router = APIRouter(prefix="/api/v1/waitlist", tags=["waitlist"])
APPOINTMENTS = "/api/v1/appointments"

EntryIdPath = Annotated[
    WaitlistId, Path(description="the waitlist entry's id (a UUID)", examples=[EXAMPLE_ID])
]
OfferIdPath = Annotated[
    WaitlistId, Path(description="the offer's id (a UUID)", examples=[EXAMPLE_OFFER_ID])
]

_TEXT: dict[int, str] = {
    400: "A malformed Idempotency-Key header",
    401: "No token, or an invalid or expired one",
    403: "The caller's role may not do this: a doctor joining, leaving or answering; a "
    "patient joining for someone else, or as `urgent`",
    404: "No such entry (or offer), or someone else's",
    413: "The request body is too large (over the configured limit, 64 KiB by default)",
    422: "Invalid input: the id is not a UUID, or the body has unknown fields or wrong types",
}


def _problems(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """Problem responses; ``described`` (``e409=...``) replaces a code's description."""
    text = _TEXT | {int(k.removeprefix("e")): v for k, v in described.items()}
    return {code: problem(text[code]) for code in codes}


ENTRY_LOCATION = header("the entry's URL, e.g. /api/v1/waitlist/<id>")
KEY = header("the join's key: the one sent, or the one generated when none was")
_ANSWER_409 = (
    "`offer-expired`: the offer's time ran out (or its round ended first); "
    "`offer-closed`: it was accepted already (the detail names the appointment), declined, "
    "or withdrawn"
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WaitlistEntryOut,
    summary="Put a patient on the waitlist",
    description="A patient for themself, staff and admin for anyone (`urgent` only by staff "
    "and admin). The entry waits for a freed slot of the doctor whose start lies in "
    "[earliest_start, latest_start] and that fits its length; it is offered such a slot "
    "one patient at a time (urgent first, then the longest waiting). A retry with the same "
    "Idempotency-Key answers the same entry; the same key with another body is refused "
    "(422). It leaves by itself once its window has passed.",
    responses={
        201: {
            "description": "On the waitlist: WAITING",
            "headers": {"Location": ENTRY_LOCATION, "Idempotency-Key": KEY},
        },
        **_problems(
            400,
            401,
            403,
            409,
            413,
            422,
            e409="`waitlist-limit-reached`: the patient is on the waitlist as often as a "
            "patient may be (the setting `APPOINTMENTS_WAITLIST_MAX_ENTRIES_PER_PATIENT`)",
            e422="Invalid input: earliest_start after latest_start, latest_start passed, a "
            "length off the rules (`invalid-waitlist-entry`); an unknown doctor "
            "(`doctor-not-found`); unknown fields or wrong types; or an Idempotency-Key "
            "reused with another body (`idempotency-key-reused`)",
        ),
    },
)
async def join_waitlist(
    body: WaitlistRequest,
    key: BookingKeyDep,
    requester: RequesterDep,
    services: ServicesDep,
    response: Response,
) -> WaitlistEntryOut:
    entry = await services.waitlist.join(JoinWaitlist(entry=body, idempotency_key=key), requester)
    response.headers.update({"Location": f"{router.prefix}/{entry.id}", "Idempotency-Key": key})
    return WaitlistEntryOut.of(entry)


@router.get(
    "",
    response_model=WaitlistPage,
    summary="List waitlist entries",
    description="Entries by (joined_at, id), one page at a time: pass `next_cursor` as "
    "`cursor` until it is null. `status` may be repeated; `limit` is 1-100 (default 20). A "
    "patient sees only their own entries and a doctor only those for them: a filter naming "
    "someone else selects nothing.",
    responses=_problems(
        401,
        403,
        422,
        e422="An unknown parameter or status, a limit out of 1-100, or a cursor this API "
        "did not issue",
    ),
)
async def list_waitlist(
    query: Annotated[ListWaitlist, Query()], requester: RequesterDep, services: ServicesDep
) -> WaitlistPage:
    page = await services.waitlist.list(query, requester)
    return WaitlistPage(
        items=[WaitlistEntryOut.of(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{entry_id}",
    response_model=WaitlistEntryOut,
    summary="Read a waitlist entry",
    description="The entry with its open offer (`offer`: accept or decline it before "
    "`expires_at`) and every offer made to it.",
    responses=_problems(401, 403, 404, 422, e422="The id is not a UUID"),
)
async def read_waitlist_entry(
    entry_id: EntryIdPath, requester: RequesterDep, services: ServicesDep
) -> WaitlistEntryOut:
    return WaitlistEntryOut.of(await services.waitlist.read(entry_id, requester))


@router.delete(
    "/{entry_id}",
    response_model=WaitlistEntryOut,
    summary="Leave the waitlist",
    description="The entry leaves (LEFT); an open offer is withdrawn, and the slot goes to "
    "the next patient. Leaving a left entry answers it as it is. A patient their own, "
    "staff and admin any.",
    responses={
        200: {"description": "The entry, LEFT"},
        **_problems(
            401,
            403,
            404,
            409,
            422,
            e409="`waitlist-entry-closed`: it was fulfilled (booked) already",
            e422="The id is not a UUID",
        ),
    },
)
async def leave_waitlist(
    entry_id: EntryIdPath, requester: RequesterDep, services: ServicesDep
) -> WaitlistEntryOut:
    return WaitlistEntryOut.of(await services.waitlist.leave(entry_id, requester))


@router.post(
    "/offers/{offer_id}/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentOut,
    summary="Accept a waitlist offer",
    description="The offer's round books the offered slot for the entry's patient through "
    "the booking saga, with the hold it already has (the slot is never free in between). "
    "Answers the booked appointment as POST /api/v1/appointments does, or 202 while the "
    "booking outlasts the wait budget (`Prefer` as there). Of concurrent accepts exactly one "
    "books; the others get 409. The patient of the offer, staff and admin on their behalf.",
    responses={
        201: {
            "description": "Booked: SCHEDULED, invoiced",
            "headers": {"Location": LOCATION},
            "links": appointment_links("id"),
        },
        202: {
            "model": OfferBookingAccepted,
            "description": "Accepted, still booking; poll Location (the entry)",
            "headers": {"Location": ENTRY_LOCATION, "Retry-After": RETRY_AFTER},
        },
        **_problems(
            401,
            403,
            404,
            409,
            422,
            e409=_ANSWER_409 + "; or the booking's own refusal (`slot-unavailable`, ...)",
            e422="The id is not a UUID, or the booking was refused (an unknown patient)",
        ),
        402: problem("Billing refused the invoice"),
        503: problem("A peer stayed unavailable; nothing was booked"),
    },
)
async def accept_offer(
    offer_id: OfferIdPath,
    requester: RequesterDep,
    services: ServicesDep,
    wait: WaitDep,
    response: Response,
) -> Any:
    booked = await services.waitlist.accept(offer_id, requester, wait)
    if isinstance(booked, OfferBooking):
        accepted = OfferBookingAccepted(entry_id=booked.entry_id, offer_id=booked.offer_id)
        return JSONResponse(
            accepted.model_dump(),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{router.prefix}/{booked.entry_id}", "Retry-After": "1"},
        )
    response.headers["Location"] = f"{APPOINTMENTS}/{booked.id}"
    return AppointmentOut.of(booked, services.journeys.of(booked))


@router.post(
    "/offers/{offer_id}/decline",
    response_model=WaitlistEntryOut,
    summary="Decline a waitlist offer",
    description="The entry waits again (it is not offered this slot again); the slot goes "
    "to the next patient. The patient of the offer, staff and admin on their behalf.",
    responses={
        200: {"description": "The entry after the decline"},
        **_problems(401, 403, 404, 409, 422, e409=_ANSWER_409, e422="The id is not a UUID"),
    },
)
async def decline_offer(
    offer_id: OfferIdPath, requester: RequesterDep, services: ServicesDep
) -> WaitlistEntryOut:
    return WaitlistEntryOut.of(await services.waitlist.decline(offer_id, requester))
