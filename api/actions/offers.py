"""``/a/{token}`` for a waitlist offer's link (purpose ACCEPT_OFFER or DECLINE_OFFER; the
grant's id is the offer's, its instant the offer's expiry): GET shows the offered slot
and the one button the link allows, POST accepts (and shows the booked appointment) or
declines, through the use cases REST calls, with the patient as the actor. An offer
that ran out answers 410, one answered already says how."""

from __future__ import annotations

from datetime import datetime
from html import escape

from fastapi.responses import HTMLResponse

from api.actions import page
from api.actions.page import paragraph, render
from api.problems import status_of
from application import errors as refusals
from application.access import Requester
from application.action_links import ActionGrant, ActionPurpose
from application.services import Services
from application.waitlist import OfferBooking, OfferShown
from domain import errors
from domain.model import Appointment
from domain.waitlist import OfferExpired, OfferNotFound, OfferStatus

_NOT_VALID = (
    "This link is not valid",
    "Please open the whole link from your message; if it still does not work, call the "
    "clinic's front desk.",
)


def expired(expires_at: datetime, zone: str) -> HTMLResponse:
    """The page of an offer whose time ran out: the slot has gone to the next patient."""
    text = (
        f"The offer could be accepted until {page.when(expires_at, zone)}; the slot has been "
        "offered to the next patient. Nothing was booked. You stay on the waitlist for other "
        "slots."
    )
    return render("This offer has expired", paragraph(text, "refused"), 410)


def _not_valid() -> HTMLResponse:
    title, text = _NOT_VALID
    return render(title, paragraph(text, "refused"), 404)


def _details(shown: OfferShown) -> str:
    zone, offer = shown.entry.timezone, shown.offer
    rows = [("When", page.when(offer.start, zone))]
    if shown.doctor_name:
        rows.append(("Doctor", shown.doctor_name))
    rows += [
        ("Length", f"{shown.entry.duration_minutes} minutes"),
        ("Offer open until", page.when(offer.expires_at, zone)),
    ]
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f"<dl>{cells}</dl>"


def _form(purpose: ActionPurpose) -> str:
    if purpose is ActionPurpose.ACCEPT_OFFER:
        button = '<button type="submit" name="do" value="accept">Book this slot</button>'
    else:
        button = (
            '<button type="submit" class="cancel" name="do" value="decline">No, thank you</button>'
        )
    return f'<form method="post">{button}</form>'


def _answered(shown: OfferShown) -> HTMLResponse | None:
    """The page of an offer that is no longer open; None while it is."""
    offer, zone = shown.offer, shown.entry.timezone
    match offer.status:
        case OfferStatus.OPEN:
            return None
        case OfferStatus.ACCEPTED:
            text = "You have booked this slot. We look forward to seeing you."
            return render("Your appointment is booked", _details(shown) + paragraph(text, "done"))
        case OfferStatus.DECLINED:
            text = "You declined this offer; you stay on the waitlist for other slots."
            return render("You declined this offer", paragraph(text, "done"))
        case OfferStatus.EXPIRED:
            return expired(offer.closed_at or offer.expires_at, zone)
    text = "You left the waitlist, so the offer was withdrawn. Nothing was booked."
    return render("This offer was withdrawn", paragraph(text, "refused"), 410)


async def _shown(services: Services, grant: ActionGrant, requester: Requester) -> OfferShown:
    return await services.waitlist.offer(grant.appointment_id, requester)


async def show(services: Services, grant: ActionGrant, requester: Requester) -> HTMLResponse:
    try:
        shown = await _shown(services, grant, requester)
    except OfferNotFound:
        return _not_valid()
    closed = _answered(shown)
    if closed is not None:
        return closed
    if grant.purpose is ActionPurpose.ACCEPT_OFFER:
        title, text = "A slot is free for you", "Would you like to book it? It is held for you."
    else:
        title, text = "Decline this slot?", "The slot will be offered to the next patient."
    body = _details(shown) + paragraph(text) + _form(grant.purpose)
    return render(title, body)


async def answer(
    services: Services, grant: ActionGrant, requester: Requester, wait_seconds: float
) -> HTMLResponse:
    try:
        shown = await _shown(services, grant, requester)
    except OfferNotFound:
        return _not_valid()
    closed = _answered(shown)
    if closed is not None:  # answered already (a double click), or ran out
        return closed
    offer_id = shown.offer.id
    try:
        if grant.purpose is ActionPurpose.DECLINE_OFFER:
            await services.waitlist.decline(offer_id, requester)
            text = "Thank you for letting us know; you stay on the waitlist for other slots."
            return render("You declined this offer", paragraph(text, "done"))
        booked = await services.waitlist.accept(offer_id, requester, wait_seconds)
    except OfferExpired:
        return expired(shown.offer.expires_at, shown.entry.timezone)
    except (errors.DomainError, refusals.Refused) as error:
        text = f"{error.title}: {error.detail}" if error.detail else error.title
        body = paragraph(f"{text}. Nothing was booked.", "refused") + _details(shown)
        return render("This could not be done", body, status_of(error))
    except errors.PeerUnavailable:
        text = "A system we depend on is not reachable. Please try again in a few minutes."
        return render("Please try again shortly", paragraph(text, "refused"), 503)
    if isinstance(booked, OfferBooking):
        text = "We are booking your appointment. You will get a message once it is done."
        return render("Booking received", _details(shown) + paragraph(text, "note"), 202)
    return _booked(shown, booked)


def _booked(shown: OfferShown, appointment: Appointment) -> HTMLResponse:
    zone = appointment.timezone or shown.entry.timezone
    rows = [("When", page.when(appointment.start, zone))]
    if shown.doctor_name:
        rows.append(("Doctor", shown.doctor_name))
    rows.append(("Length", f"{appointment.duration_minutes} minutes"))
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    text = "Your appointment is booked. We look forward to seeing you."
    return render("Your appointment is booked", f"<dl>{cells}</dl>" + paragraph(text, "done"), 201)
