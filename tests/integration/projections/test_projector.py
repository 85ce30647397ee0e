"""The projector against the real event store: what the unit of work commits shows in
the view; duplicates and replays change nothing; a restart resumes from its checkpoint
without missing what was written meanwhile; a lost checkpoint means a full catch-up;
a peer that is down delays a row but never strips its names; a rebuild gives exactly
the view the projector built event by event."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.status import AppointmentStatus
from localstack import servers
from localstack.ports import free_port
from projections.projector import rebuild
from projections.read_view import READ_VIEW
from tests.integration.projections.conftest import Bed, open_bed
from tests.waiting import eventually_async as eventually

S = AppointmentStatus
NINE = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # 09:00 in Berlin, a Monday
LATE = datetime(2030, 1, 7, 23, 15, tzinfo=UTC)  # 00:15 on the 8th in Berlin


def slot(n: int) -> datetime:
    return NINE + timedelta(minutes=15 * n)


async def test_what_the_unit_of_work_commits_shows_in_the_view(bed: Bed) -> None:
    bed.start_projector()
    booked = await bed.book(NINE, patient_id="pat-ben-okafor", then=(S.SCHEDULED, S.CONFIRMED))
    late = await bed.book(LATE, doctor_id="doc-on-call", then=())
    rows = await bed.caught_up()
    row = rows[booked.id]
    assert row == {
        "_id": booked.id,
        "version": 3,
        "patient_id": "pat-ben-okafor",
        "patient_name": "Ben Okafor",
        "doctor_id": "doc-on-call",
        "doctor_name": "Dr. Noah Fischer (on call)",
        "doctor_specialty": "general practice",
        "day": "2030-01-07",
        "start": NINE,
        "end": NINE + timedelta(minutes=15),
        "duration_minutes": 15,
        "timezone": "Europe/Berlin",
        "status": "CONFIRMED",
        "reason": "check-up",
        "updated_at": booked.updated_at,
    }
    assert rows[late.id]["day"] == "2030-01-08"  # the clinic's day
    assert rows[late.id]["status"] == "PENDING"

    moved = await bed.move(late, S.SCHEDULED, S.CANCELLED)
    rows = await bed.caught_up()
    assert rows[late.id]["status"] == "CANCELLED"
    assert rows[late.id]["version"] == moved.version == 3


async def test_an_unknown_patient_or_doctor_gets_no_name(bed: Bed) -> None:
    bed.start_projector()
    stranger = await bed.book(NINE, patient_id="pat-nobody", doctor_id="doc-nobody")
    row = (await bed.caught_up())[stranger.id]
    assert (row["patient_name"], row["doctor_name"], row["doctor_specialty"]) == (None,) * 3


async def test_duplicates_and_replays_change_nothing(bed: Bed) -> None:
    booked = [await bed.book(slot(n), then=(S.SCHEDULED, S.CONFIRMED)) for n in range(4)]
    bed.start_projector()
    before = await bed.caught_up()

    projection = bed.projection()
    ids = [a.id for a in booked]
    assert (await projection.project(ids)).rows == 0  # every event already in
    await projection.catch_up(asyncio.Event())  # every event folded again from scratch
    # Old rows written late (a slow or a second projector) never move a row backwards,
    # whether they come as a replacement or as an insert.
    store = bed.view_store()
    current = (await store.rows(ids[:1]))[ids[0]]
    await store.write([replace(current, version=1, status=S.PENDING)], existing=ids[:1])
    await store.write([replace(current, version=2, status=S.SCHEDULED)], existing=())
    await store.write([replace(current, reason="same version, other content")], existing=ids)
    await asyncio.sleep(0.3)  # let the running projector see whatever it would
    assert await bed.rows() == before


async def test_a_restart_resumes_from_the_checkpoint_and_misses_nothing(bed: Bed) -> None:
    bed.start_projector()
    first = await bed.book(slot(0))
    untouched = await bed.book(slot(1))
    await bed.caught_up()
    await bed.stop_projectors()  # graceful: the last batch is checkpointed
    assert await bed.view_store().checkpoint() is not None

    # Written while no projector runs: must all arrive after the restart.
    moved = await bed.move(first, S.CONFIRMED, S.CHECKED_IN)
    later = [await bed.book(slot(n)) for n in range(2, 5)]
    # Proof that the restart resumes rather than catching up in full: a row removed by
    # hand stays removed, because none of ITS events come after the checkpoint.
    await bed.database[READ_VIEW].delete_one({"_id": untouched.id})

    bed.start_projector()

    async def resumed() -> bool:
        rows = await bed.rows()
        return all(a.id in rows for a in later) and rows[first.id]["version"] == moved.version

    await eventually(resumed, what="the events written while down reached the view")
    rows = await bed.rows()
    assert rows[first.id]["status"] == "CHECKED_IN"
    assert untouched.id not in rows


async def test_a_mongodb_restart_is_waited_out_and_nothing_is_missed(
    tmp_path: Path,
) -> None:
    """Its own server, restarted under a running projector: the projector waits with
    backoff and resumes from its checkpoint (SecantusDB keeps change streams resumable
    across a restart)."""
    port = free_port()
    mongo = servers.mongo(port, tmp_path / "storage", tmp_path / "logs")
    with mongo:
        async with open_bed(servers.mongo_uri(port)) as bed:
            bed.start_projector()
            before = await bed.book(slot(0))
            await bed.caught_up()
            await asyncio.to_thread(mongo.restart)
            after = await bed.book(slot(1))
            rows = await bed.caught_up(within=30)
            assert {before.id, after.id} <= set(rows)
            assert all(task.done() is False for _, task in bed.running)  # still running


async def test_a_lost_resume_token_means_a_full_catch_up(bed: Bed) -> None:
    bed.start_projector()
    kept = await bed.book(slot(0))
    await bed.caught_up()
    await bed.stop_projectors()
    await bed.database[READ_VIEW].delete_one({"_id": kept.id})
    await bed.view_store().save_checkpoint({"_data": "not-a-token-the-server-knows"})

    bed.start_projector()
    rows = await bed.caught_up()  # the removed row is back: everything was caught up
    assert rows[kept.id]["version"] == kept.version
    later = await bed.book(slot(1))
    assert (await bed.caught_up())[later.id]["status"] == "SCHEDULED"  # and it follows on


async def test_a_first_start_catches_up_then_follows(bed: Bed) -> None:
    earlier = [await bed.book(slot(n)) for n in range(3)]
    bed.start_projector()
    rows = await bed.caught_up()
    assert set(rows) == {a.id for a in earlier}
    assert await bed.view_store().checkpoint() is not None
    later = await bed.book(slot(3))
    assert later.id in await bed.caught_up()


async def test_a_peer_that_is_down_delays_the_row_but_never_loses_its_names(bed: Bed) -> None:
    await bed.fault("patient", mode="fail")
    bed.start_projector()
    booked = await bed.book(slot(0))
    await asyncio.sleep(0.5)
    assert booked.id not in await bed.rows()  # waiting for the Patient Service
    await bed.fault("patient", mode="ok")
    row = (await bed.caught_up())[booked.id]
    assert row["patient_name"] == "Anna Schmidt"


async def test_two_projectors_at_once_agree_with_a_rebuild(bed: Bed) -> None:
    bed.start_projector()
    bed.start_projector()
    booked = [await bed.book(slot(n), then=()) for n in range(6)]
    for appointment in booked[::2]:
        await bed.move(appointment, S.SCHEDULED, S.CONFIRMED)
    incremental = await bed.caught_up()
    await bed.stop_projectors()
    tally = await rebuild(bed.view_store(), bed.projection(), asyncio.Event())
    assert (tally.rows, tally.events) == (6, 6 + 2 * 3)
    assert await bed.rows() == incremental


async def test_a_rebuild_gives_the_view_the_projector_built(bed: Bed) -> None:
    bed.start_projector()
    booked = [await bed.book(slot(n)) for n in range(5)]
    await bed.move(booked[0], S.CONFIRMED, S.CHECKED_IN, S.COMPLETED)
    await bed.move(booked[1], S.CANCELLED)
    await bed.book(slot(1), then=(S.FAILED,), patient_id="pat-nobody")
    incremental = await bed.caught_up()
    await bed.stop_projectors()

    tally = await rebuild(bed.view_store(), bed.projection(), asyncio.Event())
    assert tally.rows == len(incremental) == 6
    assert await bed.rows() == incremental  # every row, every field
    indexes = await bed.database[READ_VIEW].index_information()
    assert {"doctor_start", "patient_start"} <= set(indexes)

    # The rebuild's checkpoint lets the next projector follow on from there.
    bed.start_projector()
    later = await bed.book(slot(7))
    assert later.id in await bed.caught_up()
