"""``/a/{token}``: the page a patient's confirm or cancel link opens (application/
action_links.py; a waitlist offer's accept or decline link is api/actions/offers.py's).
GET shows the appointment and the one button the token allows; POST does it through the
same use cases as REST, with the patient as the actor. Nothing here needs a login: the
signed token is the credential, for one action on one appointment, until its start, and
only for the start it was made for (a reschedule voids it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from loguru import logger

from api.actions import offers, page
from api.actions.page import Shown, details, paragraph, render
from api.deps import ServicesDep
from api.problems import status_of
from application import errors as refusals
from application.access import Channel, Requester
from application.action_links import (
    OFFER_PURPOSES,
    ActionGrant,
    ActionLinkRefused,
    ActionLinks,
    ActionLinkSecretMissing,
    ActionPurpose,
    ExpiredActionLink,
)
from application.commands import Cancel, CancellationDetails, ChangeStatus
from application.permissions import NotVisible, Principal, Role
from application.results import SagaRunning
from application.services import Services
from config import Settings
from domain import errors
from domain.clock import now_utc
from domain.model import RESCHEDULABLE, Appointment
from domain.status import AppointmentStatus

router = APIRouter(include_in_schema=False)

CANCEL_REASON = "cancelled by the patient with the link in a reminder"
_MAX_FORM_FIELDS = 8
_MAX_FEE_DIGITS = 9

# Any text: what is no token of ours gets the page that says so, never a 422.
TokenPath = Annotated[str, Path()]


class Answered(Exception):
    """The page to answer now, instead of going on."""

    def __init__(self, response: HTMLResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _action_links(request: Request) -> ActionLinks:
    """Built once per app, on first use; until a secret is configured the page says so."""
    links: ActionLinks | None = getattr(request.app.state, "action_links", None)
    if links is None:
        try:
            links = ActionLinks.from_settings(_settings(request))
        except ActionLinkSecretMissing as error:
            logger.error("action links are off: {}", error)
            raise Answered(
                render(
                    "Links are not available right now",
                    paragraph("Please try again later, or call the clinic's front desk."),
                    503,
                )
            ) from None
        request.app.state.action_links = links
    return links


@dataclass(frozen=True)
class Visit:
    """An opened link: what it grants, who acts, and the appointment as it is now."""

    grant: ActionGrant
    requester: Requester
    appointment: Appointment
    doctor: str | None
    settings: Settings

    @property
    def zone(self) -> str:
        return self.appointment.timezone or self.settings.clinic_timezone

    def when(self, instant: datetime) -> str:
        return page.when(instant, self.zone)

    def details(self, appointment: Appointment | None = None) -> str:
        shown = appointment or self.appointment
        return details(
            Shown(
                when=self.when(shown.start),
                doctor=self.doctor,
                duration_minutes=shown.duration_minutes,
                status=_STATUS_TEXT.get(shown.status, shown.status.value.lower()),
            )
        )

    def fee(self, now: datetime) -> int:
        return self.appointment.cancellation_policy.fee(self.appointment.start, now)

    def money(self, cents: int) -> str:
        return page.money(cents, self.settings.currency)


_STATUS_TEXT = {
    AppointmentStatus.SCHEDULED: "booked, not confirmed yet",
    AppointmentStatus.CONFIRMED: "confirmed",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.CHECKED_IN: "checked in",
    AppointmentStatus.COMPLETED: "completed",
    AppointmentStatus.NO_SHOW: "missed",
}

_NOT_VALID = (
    "This link is not valid",
    "Please open the whole link from your message; if it still does not work, call the "
    "clinic's front desk.",
)


def _not_valid(status: int = 404) -> Answered:
    title, text = _NOT_VALID
    return Answered(render(title, paragraph(text, "refused"), status))


def _grant(request: Request, token: str, links: ActionLinks) -> ActionGrant:
    """What the link grants, or the page that says why it grants nothing."""
    settings = _settings(request)
    try:
        return links.verify(token, now_utc())
    except ExpiredActionLink as expired:
        zone = settings.clinic_timezone
        if expired.purpose in OFFER_PURPOSES:
            raise Answered(offers.expired(expired.start, zone)) from None
        raise Answered(
            render(
                "This link has expired",
                paragraph(
                    "It could be used until the appointment began, "
                    f"{page.when(expired.start, zone)}. Nothing was changed.",
                    "refused",
                ),
                410,
            )
        ) from None
    except ActionLinkRefused:
        raise _not_valid() from None


def _patient(request: Request, grant: ActionGrant) -> Requester:
    """The link's patient, as the actor of what the page does."""
    return Requester(
        Principal(grant.patient_id, Role.PATIENT),
        getattr(request.state, "request_id", None),
        channel=Channel.LINK,  # counted apart: appointments_confirmations_total{channel}
    )


async def _open(request: Request, token: str, services: Services, links: ActionLinks) -> Visit:
    """The link's grant and appointment, or the page that says why it grants nothing."""
    settings = _settings(request)
    grant = _grant(request, token, links)
    requester = _patient(request, grant)
    try:
        found = await services.booking.read(grant.appointment_id, requester)
    except (errors.AppointmentNotFound, NotVisible):
        raise _not_valid() from None
    if not isinstance(found, Appointment):  # a booking still running: no link was made
        raise _not_valid()
    visit = Visit(grant, requester, found, await _doctor(services, requester, found), settings)
    if not grant.is_for(found):
        raise Answered(
            render(
                "This link is out of date",
                paragraph(
                    f"This link was for {visit.when(grant.start)}; the appointment has moved "
                    f"to {visit.when(found.start)}. Please use the link in the newest message. "
                    "Nothing was changed.",
                    "refused",
                )
                + visit.details(),
                410,
            )
        )
    return visit


async def _doctor(services: Services, requester: Requester, appointment: Appointment) -> str | None:
    """The doctor's name from the read view, if it has the appointment already."""
    try:
        entry = await services.schedule.appointment(appointment.id, requester)
    except Exception as error:  # a nicety only: the page never fails for want of a name
        logger.debug("no doctor's name for the action page: {!r}", error)
        return None
    return entry.doctor_name


def _closed(visit: Visit) -> HTMLResponse:
    """The appointment's status allows nothing the link could do any more."""
    status = visit.appointment.status
    if status is AppointmentStatus.CANCELLED:
        title, text, code = "This appointment was cancelled", "Nothing more to do.", 410
    elif status is AppointmentStatus.FAILED or status is AppointmentStatus.PENDING:
        title, text, code = "This appointment is not booked", "Nothing was changed.", 410
    else:
        title = "This appointment can no longer be changed online"
        text, code = "Nothing was changed. Please call the clinic's front desk.", 409
    return render(title, paragraph(text, "refused") + visit.details(), code)


def _offer(visit: Visit, note: str | None = None, status: int = 200) -> HTMLResponse:
    """What the link offers now, with ``note`` above it (why the page shows again)."""
    appointment, purpose = visit.appointment, visit.grant.purpose
    top = paragraph(note, "refused") if note else ""
    if purpose is ActionPurpose.CONFIRM:
        if appointment.status is AppointmentStatus.CONFIRMED:
            text = "You have already confirmed it. We look forward to seeing you."
            return render(
                "Your appointment is confirmed", visit.details() + paragraph(text, "done")
            )
        if appointment.status is AppointmentStatus.SCHEDULED:
            body = top + visit.details() + paragraph("Will you come? Please confirm.")
            return render("Confirm your appointment", body + page.confirm_form(), status)
        return _closed(visit)
    if appointment.status is AppointmentStatus.CANCELLED:
        text = "It was already cancelled. Nothing more to do."
        return render("Your appointment is cancelled", visit.details() + paragraph(text, "done"))
    if appointment.status not in RESCHEDULABLE:
        return _closed(visit)
    fee = visit.fee(now_utc())
    if fee:
        cost = paragraph(f"Cancelling now costs {visit.money(fee)} (a late cancellation).", "fee")
    else:
        cost = paragraph("Cancelling now is free of charge.", "note")
    form = page.cancel_form(fee, visit.money(fee) if fee else None)
    return render("Cancel your appointment", top + visit.details() + cost + form, status)


def _refused(visit: Visit, error: errors.DomainError | refusals.Refused) -> HTMLResponse:
    text = f"{error.title}: {error.detail}" if error.detail else error.title
    body = paragraph(f"{text}. Nothing was changed.", "refused") + visit.details()
    return render("This could not be done", body, status_of(error))


@router.get("/a/{token}", response_class=HTMLResponse)
async def show(request: Request, token: TokenPath, services: ServicesDep) -> HTMLResponse:
    try:
        links = _action_links(request)
        grant = _grant(request, token, links)
        if grant.purpose in OFFER_PURPOSES:  # a waitlist offer's link (api/actions/offers.py)
            return await offers.show(services, grant, _patient(request, grant))
        visit = await _open(request, token, services, links)
    except Answered as answer:
        return answer.response
    return _offer(visit)


@router.post("/a/{token}", response_class=HTMLResponse)
async def act(request: Request, token: TokenPath, services: ServicesDep) -> HTMLResponse:
    try:
        links = _action_links(request)
        grant = _grant(request, token, links)
        if grant.purpose in OFFER_PURPOSES:
            wait = _settings(request).booking_wait_seconds
            return await offers.answer(services, grant, _patient(request, grant), wait)
        visit = await _open(request, token, services, links)
        form = await _form(request)
        if visit.grant.purpose is ActionPurpose.CONFIRM:
            return await _confirm(request, token, services, visit)
        return await _cancel(services, visit, form)
    except Answered as answer:
        return answer.response
    except errors.PeerUnavailable:
        text = "A system we depend on is not reachable. Please try again in a few minutes."
        return render("Please try again shortly", paragraph(text, "refused"), 503)


async def _form(request: Request) -> dict[str, str]:
    """The posted form's fields (the first of each); a form too odd to read is a 400."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        fields = parse_qs(body, max_num_fields=_MAX_FORM_FIELDS)
    except ValueError:
        raise Answered(
            render("Please try again", paragraph("The form was not valid."), 400)
        ) from None
    return {name: values[0] for name, values in fields.items()}


async def _confirm(request: Request, token: str, services: Services, visit: Visit) -> HTMLResponse:
    if visit.appointment.status is not AppointmentStatus.SCHEDULED:
        return _offer(visit)  # already confirmed (200), or nothing left to confirm
    command = ChangeStatus(
        appointment_id=visit.appointment.id,
        action="confirm",
        idempotency_key=visit.grant.idempotency_key,
        # Only the version this page checked the start of: a reschedule meanwhile wins.
        if_match=visit.appointment.version,
    )
    try:
        after = await services.changes.change_status(command, visit.requester)
    except errors.ConcurrencyConflict:
        # Changed meanwhile (moved: the link is void now; confirmed by a double click:
        # say so): the page as the appointment is now.
        again = await _open(request, token, services, _action_links(request))
        note = "The appointment changed meanwhile; nothing was changed. Please look again."
        return _offer(again, note, 409)
    except (errors.DomainError, refusals.Refused) as error:
        return _refused(visit, error)
    text = "Thank you. We look forward to seeing you."
    return render("Your appointment is confirmed", visit.details(after) + paragraph(text, "done"))


async def _cancel(services: Services, visit: Visit, form: dict[str, str]) -> HTMLResponse:
    if visit.appointment.status not in RESCHEDULABLE:
        return _offer(visit)  # already cancelled (200), or nothing left to cancel
    seen = form.get("fee_cents", "")
    if not (seen.isascii() and seen.isdigit() and len(seen) <= _MAX_FEE_DIGITS):
        note = "The form was incomplete; nothing was cancelled. Please look again."
        return _offer(visit, note, 400)
    fee = visit.fee(now_utc())
    if int(seen) != fee:
        note = (
            f"The cost of cancelling has changed since the page was shown: it is now "
            f"{visit.money(fee) if fee else 'free'}. Nothing was cancelled; please decide again."
        )
        return _offer(visit, note, 409)
    if fee and form.get("accept_fee") != "yes":
        note = "Please tick the box to accept the late cancellation fee. Nothing was cancelled."
        return _offer(visit, note, 400)
    command = Cancel(
        appointment_id=visit.appointment.id,
        cancellation=CancellationDetails(reason=CANCEL_REASON),
        idempotency_key=visit.grant.idempotency_key,
    )
    wait = visit.settings.booking_wait_seconds
    try:
        outcome = await services.sagas.cancel(command, visit.requester, wait)
    except (errors.DomainError, refusals.Refused) as error:
        return _refused(visit, error)
    if isinstance(outcome, SagaRunning):
        text = "Your cancellation is being processed. You will get a message once it is done."
        return render("Cancellation received", visit.details() + paragraph(text, "note"), 202)
    if outcome.status is not AppointmentStatus.CANCELLED:
        return _offer(Visit(visit.grant, visit.requester, outcome, visit.doctor, visit.settings))
    charged = f" A late cancellation fee of {visit.money(fee)} applies." if fee else ""
    text = f"Your appointment is cancelled.{charged}"
    return render("Your appointment is cancelled", visit.details(outcome) + paragraph(text, "done"))
