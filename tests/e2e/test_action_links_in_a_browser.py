"""A patient's one-click links (api/actions) as the patient meets them: opened in a real
browser (Debian's Chromium, ``make browser``) from the link a reminder carries, built as
the worker builds it (``ActionLinks.from_settings`` of the stack's settings, with the
secret the local stack made). Clicking Confirm confirms the appointment as the patient;
an expired link, or one made before a reschedule, says so and changes nothing. The page
loads nothing but itself: its Content-Security-Policy refuses nothing it uses. The
screenshots land in tests/artifacts/action-links/ (git-ignored)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, expect

from application.action_links import ActionLinks, ActionPurpose
from domain.model import Appointment
from domain.status import AppointmentStatus
from localstack.service import LocalService
from tests.browser import LOCAL_HOST, chromium
from tests.e2e.conftest import Slots
from tests.e2e.support import BASE, PATIENT, Stack, booked, events_of, soon_slot

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "action-links"
WAIT_MS = 30_000  # generous: the machine is shared; a wait, not a measured budget


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    # A phone's screen: where patients open the links of their reminders.
    with chromium(viewport=(420, 860)) as context:
        yield context


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A tab that reaches this host only and fails the test on any CSP refusal."""
    outside: list[str] = []
    refused: list[str] = []

    def only_this_host(route: Route) -> None:
        if urlsplit(route.request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("addressunreachable")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(message.text)

    tab = browser.new_page()
    tab.route("**/*", only_this_host)
    tab.on("console", on_console)
    try:
        yield tab
    finally:
        tab.close()
    assert outside == []
    assert refused == []


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")


def as_stored(answer: dict[str, Any]) -> Appointment:
    """The appointment of a REST answer, as the worker reads it to build its links."""
    return Appointment(
        id=answer["id"],
        patient_id=answer["patient_id"],
        doctor_id=answer["doctor_id"],
        start=datetime.fromisoformat(answer["start"]),
        duration_minutes=answer["duration_minutes"],
        timezone=answer["timezone"],
        status=AppointmentStatus(answer["status"]),
        version=answer["version"],
        created_at=datetime.fromisoformat(answer["created_at"]),
        updated_at=datetime.fromisoformat(answer["updated_at"]),
    )


def unchanged(api: httpx.Client, seen: dict[str, Any]) -> bool:
    """Whether the appointment is still as ``seen``: same status, start and version."""
    now = api.get(f"{BASE}/{seen['id']}").json()
    fields = ("status", "start", "version")
    return all(now[name] == seen[name] for name in fields)


def links_of(service: LocalService, appointment: Appointment) -> dict[str, str]:
    return ActionLinks.from_settings(service.settings).links(appointment)


def test_clicking_confirm_confirms_the_appointment_as_the_patient(
    service: LocalService, api: httpx.Client, slots: Slots, mongo: Any, page: Page
) -> None:
    appointment = booked(api, slots.next())
    confirm = links_of(service, as_stored(appointment))["confirm"]
    assert confirm.startswith(f"{service.api_url}/a/")

    opened = page.goto(confirm)

    assert opened is not None
    assert opened.status == 200
    expect(page.get_by_role("heading", name="Confirm your appointment")).to_be_visible()
    expect(page.get_by_text("(Europe/Berlin)")).to_be_visible()
    screenshot(page, "confirm-link")
    page.get_by_role("button", name="Confirm").click()
    heading = page.get_by_role("heading", name="Your appointment is confirmed")
    expect(heading).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "confirmed")

    stored = api.get(f"{BASE}/{appointment['id']}").json()
    assert stored["status"] == "CONFIRMED"
    last = events_of(mongo, appointment["id"])[-1]
    assert (last["type"], last["actor"]) == ("appointment.confirmed", f"patient:{PATIENT}")
    # Back to the link later: it says so, and confirms nothing twice.
    again = page.goto(confirm)
    assert again is not None
    assert again.status == 200
    expect(page.get_by_text("You have already confirmed it")).to_be_visible()
    assert api.get(f"{BASE}/{appointment['id']}").json()["version"] == stored["version"]


def test_a_late_cancellation_shows_the_fee_and_cancels_once_agreed(
    service: LocalService, stack: Stack, page: Page
) -> None:
    appointment = booked(stack.api, soon_slot(stack))  # inside the 24 hours: a late change
    cancel = links_of(service, as_stored(appointment))["cancel"]

    opened = page.goto(cancel)

    assert opened is not None
    assert opened.status == 200
    expect(page.get_by_text("Cancelling now costs EUR 25.00")).to_be_visible()
    screenshot(page, "cancel-link-late")
    button = page.get_by_role("button", name="Cancel the appointment")
    button.click()  # the box not ticked: the browser itself keeps the form back
    expect(page.get_by_role("heading", name="Cancel your appointment")).to_be_visible()
    assert unchanged(stack.api, appointment)
    page.get_by_role("checkbox").check()
    button.click()
    heading = page.get_by_role("heading", name="Your appointment is cancelled")
    expect(heading).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("A late cancellation fee of EUR 25.00 applies")).to_be_visible()
    screenshot(page, "cancelled-late")

    stored = stack.api.get(f"{BASE}/{appointment['id']}").json()
    assert stored["status"] == "CANCELLED"
    last = events_of(stack.mongo, appointment["id"])[-1]
    assert (last["type"], last["actor"]) == ("appointment.cancelled", f"patient:{PATIENT}")


def test_a_link_made_before_a_reschedule_says_so_and_changes_nothing(
    service: LocalService, api: httpx.Client, slots: Slots, page: Page
) -> None:
    appointment = booked(api, slots.next())
    old = links_of(service, as_stored(appointment))
    moved = api.post(
        f"{BASE}/{appointment['id']}/reschedule",
        json={"start": slots.next()},
        headers={"Idempotency-Key": f"move-{appointment['id']}"},
    )
    assert moved.status_code == 200, moved.text

    for purpose in (ActionPurpose.CONFIRM, ActionPurpose.CANCEL):
        opened = page.goto(old[purpose.value])
        assert opened is not None
        assert opened.status == 410
        expect(page.get_by_role("heading", name="This link is out of date")).to_be_visible()
        expect(page.get_by_text("use the link in the newest message")).to_be_visible()
        expect(page.get_by_role("button")).to_have_count(0)
    screenshot(page, "moved")

    assert unchanged(api, moved.json())


def test_an_expired_link_says_so_and_changes_nothing(
    service: LocalService, api: httpx.Client, slots: Slots, page: Page
) -> None:
    appointment = booked(api, slots.next())
    # A genuine link of this appointment, made for a start that has passed.
    began = dataclasses.replace(
        as_stored(appointment), start=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    )
    links = links_of(service, began)

    for purpose in (ActionPurpose.CONFIRM, ActionPurpose.CANCEL):
        opened = page.goto(links[purpose.value])
        assert opened is not None
        assert opened.status == 410
        expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
        expect(page.get_by_role("button")).to_have_count(0)
    screenshot(page, "expired")
    # Posting the form anyway (as a stale tab would) changes nothing either.
    posted = httpx.post(links["confirm"], data={"do": "confirm"})
    assert posted.status_code == 410

    assert unchanged(api, appointment)
