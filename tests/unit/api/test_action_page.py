"""``/a/{token}``, the page of patients' action links (api/actions), on the app with the
fakes: what each link shows, what its button does (through the use cases, as the
patient), and every way a link can grant nothing: forged, expired, moved, or a form that
does not carry the fee the patient agreed to. None of them changes anything."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from api.actions.page import CONTENT_SECURITY_POLICY
from api.middleware import loggable_path
from application.access import Requester
from application.action_links import ActionLinks, ActionPurpose
from application.commands import ChangeStatus, NewTime, Reschedule
from application.permissions import Principal, Role
from config import Settings, load_settings
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.asgi import client_of
from tests.fakes import FakeCounts, World
from tests.unit.api.conftest import AskedCalendars, bearer

S = AppointmentStatus
SECRET = "a-secret-for-the-action-links-of-these-tests-0123456789"
PATIENT = "pat-anna-schmidt"
STAFF = Requester(Principal("frontdesk-1", Role.STAFF))
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        data_dir=tmp_path_factory.mktemp("actions"),
        action_link_secret=SECRET,
        public_base_url="http://test",
    )


@pytest.fixture
def world(settings: Settings, app: FastAPI) -> World:
    """On the real clock: tokens expire at the real start, fees follow the real now."""
    world = World(settings=settings, calendars=AskedCalendars())
    app.state.services = world.services
    return world


@pytest.fixture
async def browser(app: FastAPI, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A patient's browser: no token of any kind, only the link."""
    async with client_of(app) as client:
        yield client


LINKS = ActionLinks(SECRET.encode(), "http://test")
# What an appointment's links grant (an offer's are tests/unit/api/test_offer_page.py's).
APPOINTMENT_PURPOSES = (ActionPurpose.CONFIRM, ActionPurpose.CANCEL)


def hours_ahead(hours: float) -> datetime:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=hours)
    return start - timedelta(minutes=start.minute % 5)


async def plant(world: World, hours: float = 72, **changes: object) -> Appointment:
    start = hours_ahead(hours)
    booked = await world.repository.plant(patient_id=PATIENT, start=start, **changes)  # type: ignore[arg-type]
    world.view.add(booked, doctor_name="Dr. Noah Fischer (on call)")
    return booked


def link(appointment: Appointment, purpose: ActionPurpose) -> str:
    return LINKS.links(appointment)[purpose.value].removeprefix("http://test")


def text_of(answer: httpx.Response) -> str:
    """The page's visible text, tags dropped, whitespace folded."""
    assert answer.headers["content-type"].startswith("text/html")
    return " ".join(re.sub(r"<[^>]+>", " ", answer.text.split("<body>", 1)[1]).split())


async def stored(world: World, appointment: Appointment) -> Appointment:
    found = await world.repository.get(appointment.id)
    assert found is not None
    return found


def berlin(instant: datetime) -> str:
    """As the page writes it: "Tuesday, 8 January 2030, 09:00 (Europe/Berlin)"."""
    local = instant.astimezone(ZoneInfo("Europe/Berlin"))
    return f"{local:%A}, {local.day} {local:%B %Y, %H:%M} (Europe/Berlin)"


# --- confirm -------------------------------------------------------------------------


async def test_the_confirm_link_shows_the_appointment_and_one_button(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world)

    page = await browser.get(link(booked, ActionPurpose.CONFIRM))

    assert page.status_code == 200
    text = text_of(page)
    assert "Confirm your appointment" in text
    assert berlin(booked.start) in text
    assert "Dr. Noah Fischer (on call)" in text
    assert page.text.count("<button") == 1
    assert ">Confirm</button>" in page.text
    # Self-contained: nothing loaded from anywhere, the CSP says so to the browser too.
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert not re.search(r"(src|href)=", page.text)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert await stored(world, booked) == booked  # a GET changes nothing


async def test_confirming_through_the_link_is_the_patients_confirmation_once(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world)
    url = link(booked, ActionPurpose.CONFIRM)

    done = await browser.post(url, data={"do": "confirm"})
    again = await browser.post(url, data={"do": "confirm"})  # a double click

    assert done.status_code == 200
    assert "Your appointment is confirmed" in text_of(done)
    assert again.status_code == 200
    assert "already confirmed" in text_of(again)
    after = await stored(world, booked)
    assert after.status is S.CONFIRMED
    assert after.version == booked.version + 1  # one change, not two
    events = await world.repository.history(booked.id)
    assert events[-1].type == "appointment.confirmed"
    assert events[-1].context.actor == f"patient:{PATIENT}"
    # Counted as a confirmation through the link (appointments_confirmations_total), once.
    assert isinstance(world.counts, FakeCounts)
    assert world.counts.counted == [(S.CONFIRMED, "link")]
    # And the journey was told.
    assert [a.status for a in world.news.told] == [S.CONFIRMED]


async def test_a_link_to_an_appointment_confirmed_already_says_so(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world)
    command = ChangeStatus(appointment_id=booked.id, action="confirm")
    confirmed = await world.services.changes.change_status(command, STAFF)

    page = await browser.get(link(booked, ActionPurpose.CONFIRM))
    posted = await browser.post(link(booked, ActionPurpose.CONFIRM))

    for answer in (page, posted):
        assert answer.status_code == 200
        assert "You have already confirmed it" in text_of(answer)
    assert await stored(world, booked) == confirmed


async def test_a_patient_confirms_their_own_appointment_over_rest(
    app: FastAPI, world: World, settings: Settings
) -> None:
    booked = await plant(world)
    patient = {"Authorization": bearer(settings, Role.PATIENT, PATIENT)}
    someone = {"Authorization": bearer(settings, Role.PATIENT, "pat-ben-okafor")}
    path = f"/api/v1/appointments/{booked.id}/confirm"
    async with client_of(app) as client:
        others = await client.post(path, headers=someone)
        own = await client.post(path, headers=patient)

    assert others.status_code == 404
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "CONFIRMED"


# --- cancel --------------------------------------------------------------------------


async def test_cancelling_early_is_free_and_done_by_the_patient(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world, hours=72)
    url = link(booked, ActionPurpose.CANCEL)

    page = await browser.get(url)
    done = await browser.post(url, data={"fee_cents": "0"})

    assert page.status_code == 200
    assert "Cancelling now is free of charge" in text_of(page)
    assert 'name="fee_cents" value="0"' in page.text
    assert "accept_fee" not in page.text
    assert done.status_code == 200, done.text
    assert "Your appointment is cancelled." in text_of(done)
    after = await stored(world, booked)
    assert after.status is S.CANCELLED
    events = await world.repository.history(booked.id)
    assert events[-1].context.actor == f"patient:{PATIENT}"


async def test_a_late_cancellation_shows_its_fee_and_needs_the_patients_agreement(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world, hours=3)  # inside the 24 hours of the policy
    url = link(booked, ActionPurpose.CANCEL)

    page = await browser.get(url)
    not_agreed = await browser.post(url, data={"fee_cents": "2500"})
    no_fee = await browser.post(url, data={"accept_fee": "yes"})
    odd_fee = await browser.post(url, data={"fee_cents": "25.00", "accept_fee": "yes"})
    not_a_form = await browser.post(url, content=b"\xff\xfe{]", headers=FORM)
    too_many = await browser.post(url, content="&".join(f"f{i}=1" for i in range(50)))

    assert page.status_code == 200
    assert "Cancelling now costs EUR 25.00" in text_of(page)
    assert 'name="fee_cents" value="2500"' in page.text
    assert 'name="accept_fee" value="yes" required' in page.text
    assert not_agreed.status_code == 400
    assert "tick the box" in text_of(not_agreed)
    for refused in (no_fee, odd_fee, not_a_form, too_many):
        assert refused.status_code == 400, refused.text
    assert await stored(world, booked) == booked
    assert world.sagas.requests == []  # no saga was even started

    agreed = await browser.post(url, data={"fee_cents": "2500", "accept_fee": "yes"})
    assert agreed.status_code == 200
    assert "A late cancellation fee of EUR 25.00 applies" in text_of(agreed)
    assert (await stored(world, booked)).status is S.CANCELLED


async def test_a_fee_other_than_the_one_due_now_shows_the_page_again(
    browser: httpx.AsyncClient, world: World
) -> None:
    """The patient saw "free" (the page was opened before the late window began), and
    clicks once it has: the new fee is shown, nothing is cancelled."""
    booked = await plant(world, hours=3)

    answer = await browser.post(link(booked, ActionPurpose.CANCEL), data={"fee_cents": "0"})

    assert answer.status_code == 409
    text = text_of(answer)
    assert "it is now EUR 25.00. Nothing was cancelled" in text
    assert "Cancelling now costs EUR 25.00" in text
    assert await stored(world, booked) == booked
    assert world.sagas.requests == []


async def test_a_cancellation_still_running_is_being_processed(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world)
    world.sagas.answer = "running"

    answer = await browser.post(link(booked, ActionPurpose.CANCEL), data={"fee_cents": "0"})

    assert answer.status_code == 202
    assert "Your cancellation is being processed" in text_of(answer)


async def test_a_cancel_link_of_a_cancelled_appointment_says_so(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world, status=S.CANCELLED)

    cancel = await browser.post(link(booked, ActionPurpose.CANCEL), data={"fee_cents": "0"})
    confirm = await browser.post(link(booked, ActionPurpose.CONFIRM))

    assert cancel.status_code == 200
    assert "It was already cancelled" in text_of(cancel)
    assert confirm.status_code == 410
    assert "This appointment was cancelled" in text_of(confirm)
    assert await stored(world, booked) == booked


# --- links that grant nothing ----------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["garbage", "A" * 78, "x" * 5000, "%C3%A9%00", "eyJhbGciOiJIUzI1NiJ9.e30.sig"],
)
async def test_what_is_no_token_of_ours_is_not_valid_and_changes_nothing(
    browser: httpx.AsyncClient, world: World, token: str
) -> None:
    booked = await plant(world)

    page = await browser.get(f"/a/{token}")
    posted = await browser.post(f"/a/{token}", data={"fee_cents": "0"})

    for answer in (page, posted):
        assert answer.status_code == 404, answer.text
        assert "This link is not valid" in text_of(answer)
    assert await stored(world, booked) == booked


async def test_a_link_signed_with_another_secret_is_not_valid(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world)
    theirs = ActionLinks(b"another-deployment-s-secret-0123456789", "http://test")
    path = theirs.links(booked)["confirm"].removeprefix("http://test")

    answer = await browser.post(path)

    assert answer.status_code == 404
    assert await stored(world, booked) == booked


async def test_an_expired_link_says_so_and_changes_nothing(
    browser: httpx.AsyncClient, world: World
) -> None:
    began = await plant(world, hours=-1)  # started an hour ago

    for purpose in APPOINTMENT_PURPOSES:
        page = await browser.get(link(began, purpose))
        posted = await browser.post(link(began, purpose), data={"fee_cents": "0"})
        for answer in (page, posted):
            assert answer.status_code == 410
            text = text_of(answer)
            assert "This link has expired" in text
            assert berlin(began.start) in text
    assert await stored(world, began) == began


async def test_a_reschedule_voids_the_links_made_before_it(
    browser: httpx.AsyncClient, world: World
) -> None:
    booked = await plant(world)
    old_links = {purpose: link(booked, purpose) for purpose in APPOINTMENT_PURPOSES}
    new_start = booked.start + timedelta(days=1)
    command = Reschedule(
        appointment_id=booked.id, new_time=NewTime(start=new_start), idempotency_key="move-1"
    )
    moved = await world.services.sagas.reschedule(command, STAFF, 1.0)
    assert isinstance(moved, Appointment)

    for url in old_links.values():
        page = await browser.get(url)
        posted = await browser.post(url, data={"fee_cents": "0"})
        for answer in (page, posted):
            assert answer.status_code == 410
            text = text_of(answer)
            assert f"This link was for {berlin(booked.start)}" in text
            assert f"the appointment has moved to {berlin(new_start)}" in text
            assert "use the link in the newest message" in text
    assert await stored(world, booked) == moved
    # The new time's link works.
    fresh = await browser.post(link(moved, ActionPurpose.CONFIRM))
    assert fresh.status_code == 200
    assert (await stored(world, booked)).status is S.CONFIRMED


def test_the_request_log_never_holds_a_token() -> None:
    assert loggable_path("/a/AbCdEf0123") == "/a/<token>"
    assert loggable_path("/api/v1/appointments") == "/api/v1/appointments"
