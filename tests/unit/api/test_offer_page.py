"""``/a/{token}`` for a waitlist offer's links (api/actions/offers.py), on the app with
the fakes: the accept link shows the offered slot with one button and books it as the
patient (a forged or someone else's link is a 404); the decline link declines; an offer
that ran out is a 410 that says so; and none of the refusals changes anything."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from application.action_links import ActionLinks
from config import Settings, load_settings
from domain.waitlist import EntryStatus, OfferStatus, WaitlistEntry
from tests.asgi import client_of
from tests.fakes import World
from tests.unit.api.conftest import AskedCalendars

SECRET = "a-secret-for-the-offer-links-of-these-tests-0123456789"
PATIENT, OTHER = "pat-anna-schmidt", "pat-ben-okafor"
LINKS = ActionLinks(SECRET.encode(), "http://test")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        data_dir=tmp_path_factory.mktemp("offers"),
        action_link_secret=SECRET,
        public_base_url="http://test",
    )


@pytest.fixture
def world(settings: Settings, app: FastAPI) -> World:
    """On the real clock: a link expires with its offer at the real now."""
    world = World(settings=settings, calendars=AskedCalendars())
    app.state.services = world.services
    return world


@pytest.fixture
async def browser(app: FastAPI, world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as client:
        yield client


def slot() -> datetime:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    return start - timedelta(minutes=start.minute % 5)


async def offered(
    world: World, minutes: int = 15, status: OfferStatus = OfferStatus.OPEN
) -> tuple[WaitlistEntry, dict[str, str]]:
    """An entry of PATIENT offered ``slot()``, and its offer's links (paths)."""
    start = slot()
    entry = await world.waitlist.plant(
        patient_id=PATIENT,
        earliest_start=start - timedelta(hours=1),
        latest_start=start + timedelta(hours=1),
        joined_at=datetime.now(UTC) - timedelta(days=1),
    )
    after, offer = await world.waitlist.offer(
        entry, start=start, offered_at=datetime.now(UTC), minutes=minutes, status=status
    )
    links = LINKS.offer_links(offer.id, PATIENT, offer.expires_at)
    return after, {k: v.removeprefix("http://test") for k, v in links.items()}


def text_of(answer: httpx.Response) -> str:
    assert answer.headers["content-type"].startswith("text/html")
    return " ".join(re.sub(r"<[^>]+>", " ", answer.text.split("<body>", 1)[1]).split())


def berlin(instant: datetime) -> str:
    local = instant.astimezone(ZoneInfo("Europe/Berlin"))
    return f"{local:%A}, {local.day} {local:%B %Y, %H:%M} (Europe/Berlin)"


async def test_the_accept_link_shows_the_offer_and_books_it_as_the_patient(
    browser: httpx.AsyncClient, world: World
) -> None:
    entry, links = await offered(world)
    offer = entry.offers[-1]

    page = await browser.get(links["accept"])

    assert page.status_code == 200
    text = text_of(page)
    assert "A slot is free for you" in text
    assert berlin(offer.start) in text
    assert f"Offer open until {berlin(offer.expires_at)}" in text
    assert "Dr. Noah Fischer (on call)" in text
    assert page.text.count("<button") == 1
    assert ">Book this slot</button>" in page.text
    assert world.repository.appointments == {}  # a GET changes nothing
    # A forged link, or one made for another patient, grants nothing.
    forged = links["accept"][:-3] + ("AAA" if not links["accept"].endswith("AAA") else "BBB")
    others = LINKS.offer_links(offer.id, OTHER, offer.expires_at)["accept"]
    for path in (forged, others.removeprefix("http://test")):
        for refused in (await browser.get(path), await browser.post(path)):
            assert refused.status_code == 404
            assert "This link is not valid" in text_of(refused)
    assert world.rounds.accepted == []

    posted = await browser.post(links["accept"])

    assert posted.status_code == 201, posted.text
    assert "Your appointment is booked" in text_of(posted)
    [booked] = world.repository.appointments.values()
    assert (booked.patient_id, booked.start) == (PATIENT, offer.start)
    [accept] = world.rounds.accepted
    assert accept.caller.actor == f"patient:{PATIENT}"
    assert world.waitlist.entries[entry.id].status is EntryStatus.FULFILLED
    # A second click shows the booking, and books nothing more.
    again = await browser.post(links["accept"])
    assert (again.status_code, "You have booked this slot" in text_of(again)) == (200, True)
    assert len(world.repository.appointments) == 1


async def test_the_decline_link_declines(browser: httpx.AsyncClient, world: World) -> None:
    entry, links = await offered(world)

    page = await browser.get(links["decline"])
    assert page.status_code == 200
    assert ">No, thank you</button>" in page.text
    posted = await browser.post(links["decline"])

    assert posted.status_code == 200, posted.text
    assert "You declined this offer" in text_of(posted)
    stored = world.waitlist.entries[entry.id]
    assert (stored.status, stored.offers[-1].status) == (EntryStatus.WAITING, OfferStatus.DECLINED)
    assert world.repository.appointments == {}


async def test_an_offer_past_its_expiry_answers_410_and_books_nothing(
    browser: httpx.AsyncClient, world: World
) -> None:
    start = slot()
    entry = await world.waitlist.plant(
        patient_id=PATIENT,
        earliest_start=start,
        latest_start=start,
        joined_at=datetime.now(UTC) - timedelta(days=1),
    )
    _, offer = await world.waitlist.offer(
        entry, start=start, offered_at=datetime.now(UTC) - timedelta(minutes=20)
    )
    link = LINKS.offer_links(offer.id, PATIENT, offer.expires_at)["accept"]
    path = link.removeprefix("http://test")

    for answer in (await browser.get(path), await browser.post(path)):
        assert answer.status_code == 410
        text = text_of(answer)
        assert "This offer has expired" in text
        assert berlin(offer.expires_at) in text
    assert world.repository.appointments == {}
    assert world.rounds.accepted == []


async def test_an_offer_closed_before_its_time_says_so(
    browser: httpx.AsyncClient, world: World
) -> None:
    _, links = await offered(world, status=OfferStatus.EXPIRED)
    answer = await browser.post(links["accept"])
    assert answer.status_code == 410
    assert "This offer has expired" in text_of(answer)
    assert world.rounds.accepted == []
