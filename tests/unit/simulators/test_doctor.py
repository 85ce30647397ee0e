"""Doctor Service simulator: availability arithmetic and the rules of slot holds."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from peers.contracts import Availability, Hold, HoldStatus
from simulators.doctor import create_doctor_app
from tests.clocks import WallClock
from tests.unit.simulators.conftest import started

AMELIA = "doc-amelia-hart"  # cardiology, 30-minute grid, Mon–Fri 08–12 and 13–17 Berlin
JONAS = "doc-jonas-weber"  # 15-minute grid, same hours
ON_CALL = "doc-on-call"  # every day 07–21 Berlin, 15-minute grid
MONDAY = "2030-01-07"  # winter: Berlin is UTC+01:00


def problem(response: httpx.Response, status: int) -> str:
    """The problem type's last segment, once status and media type are checked."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def availability(api: httpx.AsyncClient, doctor: str, start: str, end: str) -> Availability:
    response = await api.get(f"/doctors/{doctor}/availability", params={"from": start, "to": end})
    assert response.status_code == 200, response.text
    return Availability.model_validate(response.json())


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def hold_body(start: str, minutes: int = 30, ttl: int = 300) -> dict[str, Any]:
    return {
        "start": start,
        "duration_minutes": minutes,
        "patient_id": "pat-anna-schmidt",
        "ttl_seconds": ttl,
    }


async def hold(
    api: httpx.AsyncClient, start: str, key: str, minutes: int = 30, doctor: str = AMELIA
) -> httpx.Response:
    return await api.post(
        f"/doctors/{doctor}/holds",
        json=hold_body(start, minutes),
        headers={"Idempotency-Key": key},
    )


async def test_doctors_are_seeded_and_unknown_doctor_is_a_problem(
    doctor_api: httpx.AsyncClient,
) -> None:
    ids = {doctor["id"] for doctor in (await doctor_api.get("/doctors")).json()}
    assert {AMELIA, JONAS, ON_CALL} <= ids
    assert len(ids) >= 6
    assert (await doctor_api.get(f"/doctors/{AMELIA}")).json()["specialty"] == "cardiology"
    missing = await doctor_api.get("/doctors/doc-nobody")
    assert problem(missing, 404) == "doctor-not-found"


async def test_a_working_day_is_a_grid_with_a_lunch_break(doctor_api: httpx.AsyncClient) -> None:
    day = await availability(
        doctor_api, AMELIA, f"{MONDAY}T00:00:00+01:00", "2030-01-08T00:00:00+01:00"
    )
    starts = [slot.start for slot in day.slots]
    assert len(starts) == 16
    assert day.slot_minutes == 30
    assert starts[0] == utc(f"{MONDAY}T07:00:00+00:00")
    assert starts[7] == utc(f"{MONDAY}T10:30:00+00:00")  # 11:30 Berlin, last before lunch
    assert starts[8] == utc(f"{MONDAY}T12:00:00+00:00")  # 13:00 Berlin
    assert day.slots[-1].end == utc(f"{MONDAY}T16:00:00+00:00")
    assert all(slot.start.utcoffset() == UTC.utcoffset(None) for slot in day.slots)
    fifteen = await availability(
        doctor_api, JONAS, f"{MONDAY}T00:00:00+01:00", "2030-01-08T00:00:00+01:00"
    )
    assert len(fifteen.slots) == 32


async def test_only_slots_entirely_inside_the_window_are_offered(
    doctor_api: httpx.AsyncClient,
) -> None:
    part = await availability(
        doctor_api, AMELIA, f"{MONDAY}T08:10:00+01:00", f"{MONDAY}T09:10:00+01:00"
    )
    assert [slot.start for slot in part.slots] == [utc(f"{MONDAY}T08:30:00+01:00")]


async def test_weekends_are_off_except_for_the_on_call_doctor(
    doctor_api: httpx.AsyncClient,
) -> None:
    window = ("2030-01-05T00:00:00+01:00", "2030-01-06T00:00:00+01:00")  # a Saturday
    assert (await availability(doctor_api, AMELIA, *window)).slots == []
    assert len((await availability(doctor_api, ON_CALL, *window)).slots) == 14 * 4


@pytest.mark.parametrize(
    ("doctor", "local_day", "first_slot_utc"),
    [
        (AMELIA, "2025-03-28", "2025-03-28T07:00:00+00:00"),  # Friday before: CET
        (AMELIA, "2025-03-31", "2025-03-31T06:00:00+00:00"),  # Monday after: CEST
        (ON_CALL, "2025-03-29", "2025-03-29T06:00:00+00:00"),
        (ON_CALL, "2025-03-30", "2025-03-30T05:00:00+00:00"),  # the spring changeover day
        (ON_CALL, "2025-10-26", "2025-10-26T06:00:00+00:00"),  # the autumn changeover day
        (ON_CALL, "2025-10-25", "2025-10-25T05:00:00+00:00"),
    ],
)
async def test_working_hours_follow_the_doctors_wall_clock_across_dst(
    doctor_api: httpx.AsyncClient, doctor: str, local_day: str, first_slot_utc: str
) -> None:
    # 00:00+01:00 to 22:00+01:00 covers the working day in winter and in summer time.
    day = await availability(
        doctor_api, doctor, f"{local_day}T00:00:00+01:00", f"{local_day}T22:00:00+01:00"
    )
    assert day.slots[0].start == utc(first_slot_utc)
    assert len(day.slots) == (16 if doctor == AMELIA else 56)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (f"{MONDAY}T08:00:00", f"{MONDAY}T12:00:00+01:00"),  # naive
        (f"{MONDAY}T12:00:00+01:00", f"{MONDAY}T08:00:00+01:00"),  # backwards
        (f"{MONDAY}T08:00:00+01:00", f"{MONDAY}T08:00:00+01:00"),  # empty
        ("2030-01-01T00:00:00+01:00", "2030-02-01T00:00:01+01:00"),  # > 31 days
        ("yesterday", f"{MONDAY}T08:00:00+01:00"),
    ],
)
async def test_bad_windows_are_422_problems(
    doctor_api: httpx.AsyncClient, start: str, end: str
) -> None:
    response = await doctor_api.get(
        f"/doctors/{AMELIA}/availability", params={"from": start, "to": end}
    )
    assert problem(response, 422) == "invalid-window"


async def test_a_31_day_window_and_an_unencoded_plus_are_accepted(
    doctor_api: httpx.AsyncClient,
) -> None:
    month = await availability(
        doctor_api, AMELIA, "2030-01-01T00:00:00+01:00", "2030-02-01T00:00:00+01:00"
    )
    assert len(month.slots) == 23 * 16  # January 2030 has 23 weekdays
    raw = await doctor_api.get(  # '+' unescaped arrives as a space
        f"/doctors/{AMELIA}/availability?from={MONDAY}T08:00:00+01:00&to={MONDAY}T09:00:00+01:00"
    )
    assert raw.status_code == 200
    assert len(raw.json()["slots"]) == 2


async def test_holds_remove_slots_until_released_or_expired(
    doctor_api: httpx.AsyncClient, clock: WallClock
) -> None:
    window = (f"{MONDAY}T08:00:00+01:00", f"{MONDAY}T10:00:00+01:00")
    assert len((await availability(doctor_api, AMELIA, *window)).slots) == 4
    first = Hold.model_validate((await hold(doctor_api, window[0], "k1", minutes=60)).json())
    await hold(doctor_api, f"{MONDAY}T09:30:00+01:00", "k2")
    assert [s.start for s in (await availability(doctor_api, AMELIA, *window)).slots] == [
        utc(f"{MONDAY}T09:00:00+01:00")
    ]
    await doctor_api.post(f"/holds/{first.id}/release")
    assert len((await availability(doctor_api, AMELIA, *window)).slots) == 3
    clock.advance(301)  # "k2" expires
    assert len((await availability(doctor_api, AMELIA, *window)).slots) == 4


async def test_a_hold_is_answered_in_utc_and_a_repeated_key_answers_the_same_hold(
    doctor_api: httpx.AsyncClient, clock: WallClock
) -> None:
    created = await hold(doctor_api, f"{MONDAY}T08:30:00+01:00", "key-1")
    assert created.status_code == 201
    body = Hold.model_validate(created.json())
    assert body.status is HoldStatus.HELD
    assert body.start == utc(f"{MONDAY}T07:30:00+00:00")
    assert created.json()["start"].endswith("Z")
    assert body.expires_at == clock.now.replace(minute=5)
    await doctor_api.post(f"/holds/{body.id}/confirm")
    again = await hold(doctor_api, f"{MONDAY}T08:30:00+01:00", "key-1")
    assert again.status_code == 200
    assert again.json() == {**created.json(), "status": "CONFIRMED"}
    other = await hold(doctor_api, f"{MONDAY}T09:30:00+01:00", "key-1")
    assert problem(other, 409) == "idempotency-key-reused"
    missing = await doctor_api.post(
        f"/doctors/{AMELIA}/holds", json=hold_body(f"{MONDAY}T10:00:00+01:00")
    )
    assert problem(missing, 400) == "idempotency-key-missing"


@pytest.mark.parametrize(
    ("start", "minutes"),
    [
        (f"{MONDAY}T08:10:00+01:00", 30),  # off the grid
        (f"{MONDAY}T08:00:00+01:00", 45),  # not a multiple of 30
        (f"{MONDAY}T11:30:00+01:00", 60),  # runs into lunch
        (f"{MONDAY}T07:30:00+01:00", 30),  # before hours
        ("2030-01-05T09:00:00+01:00", 30),  # Saturday
    ],
)
async def test_slots_the_doctor_does_not_offer_are_refused(
    doctor_api: httpx.AsyncClient, start: str, minutes: int
) -> None:
    response = await hold(doctor_api, start, "k", minutes=minutes)
    assert problem(response, 422) == "slot-not-offered"


async def test_overlapping_holds_conflict_and_adjacent_ones_do_not(
    doctor_api: httpx.AsyncClient,
) -> None:
    assert (await hold(doctor_api, f"{MONDAY}T08:00:00+01:00", "a", minutes=60)).status_code == 201
    taken = await hold(doctor_api, f"{MONDAY}T08:30:00+01:00", "b")
    assert problem(taken, 409) == "slot-unavailable"
    assert (await hold(doctor_api, f"{MONDAY}T09:00:00+01:00", "c")).status_code == 201
    unknown = await hold(doctor_api, f"{MONDAY}T10:00:00+01:00", "d", doctor="doc-nobody")
    assert problem(unknown, 404) == "doctor-not-found"


async def test_fifty_concurrent_holds_of_one_slot_book_it_once(
    doctor_api: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(hold(doctor_api, f"{MONDAY}T10:00:00+01:00", f"race-{n}") for n in range(50))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 49
    held = (await doctor_api.get("/holds", params={"doctor_id": AMELIA})).json()
    assert len(held) == 1


async def test_expiry_is_lazy_and_final(doctor_api: httpx.AsyncClient, clock: WallClock) -> None:
    created = Hold.model_validate((await hold(doctor_api, f"{MONDAY}T08:00:00+01:00", "x")).json())
    clock.advance(300)
    listed = (await doctor_api.get("/holds", params={"status": "EXPIRED"})).json()
    assert [item["id"] for item in listed] == [created.id]
    confirm = await doctor_api.post(f"/holds/{created.id}/confirm")
    assert problem(confirm, 409) == "hold-expired"
    release = await doctor_api.post(f"/holds/{created.id}/release")
    assert release.status_code == 200
    assert release.json()["status"] == "EXPIRED"


async def test_confirm_and_release_rules(doctor_api: httpx.AsyncClient) -> None:
    first = (await hold(doctor_api, f"{MONDAY}T08:00:00+01:00", "one")).json()["id"]
    for _ in range(2):  # confirming twice answers the confirmed hold again
        confirmed = await doctor_api.post(f"/holds/{first}/confirm")
        assert confirmed.status_code == 200
        assert confirmed.json()["status"] == "CONFIRMED"
    for _ in range(2):  # a confirmed hold can still be released, and releasing is idempotent
        released = await doctor_api.post(f"/holds/{first}/release")
        assert released.status_code == 200
        assert released.json()["status"] == "RELEASED"
    again = await doctor_api.post(f"/holds/{first}/confirm")
    assert problem(again, 409) == "hold-released"
    for action in ("confirm", "release"):
        unknown = await doctor_api.post(f"/holds/hold-nobody/{action}")
        assert problem(unknown, 404) == "hold-not-found"


async def test_holds_can_be_filtered_by_doctor_and_status(doctor_api: httpx.AsyncClient) -> None:
    await hold(doctor_api, f"{MONDAY}T08:00:00+01:00", "a")
    other = await hold(doctor_api, f"{MONDAY}T08:00:00+01:00", "b", minutes=15, doctor=JONAS)
    await doctor_api.post(f"/holds/{other.json()['id']}/confirm")
    confirmed = await doctor_api.get("/holds", params={"status": "CONFIRMED"})
    assert [item["doctor_id"] for item in confirmed.json()] == [JONAS]
    mine = await doctor_api.get("/holds", params={"doctor_id": AMELIA, "status": "HELD"})
    assert len(mine.json()) == 1


def saved(state_file: Path) -> dict[str, Any]:
    # Only the state file: the temporary one was renamed over it.
    assert [path.name for path in state_file.parent.iterdir()] == [state_file.name]
    return dict(json.loads(state_file.read_text()))


async def test_holds_survive_a_restart_with_a_state_file(tmp_path: Path, clock: WallClock) -> None:
    state_file = tmp_path / "sim.json"
    async with started(create_doctor_app, state_file, clock) as api:
        created = (await hold(api, f"{MONDAY}T08:00:00+01:00", "persist")).json()
    assert saved(state_file)["hold_keys"] == {"persist": created["id"]}
    async with started(create_doctor_app, state_file, clock) as api:
        assert (await hold(api, f"{MONDAY}T08:00:00+01:00", "persist")).json() == created
        assert (await hold(api, f"{MONDAY}T08:00:00+01:00", "new")).status_code == 409
