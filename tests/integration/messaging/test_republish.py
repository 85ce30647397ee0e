"""``relay republish`` against the real MongoDB wire protocol and the real broker: a row
parked for a defect that was then repaired goes out on the next relay round; a dry run
changes nothing; unknown, published or waiting events refuse the whole command."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from domain.status import AppointmentStatus
from messaging.republish import RepublishRefused, republish
from tests.integration.messaging.conftest import Outbox
from tests.integration.messaging.test_relay import by_key
from tests.integration.messaging.test_relay_process import ROOT, environment
from tests.unit.messaging.lifecycles import Lifecycle, edits
from tests.waiting import eventually_async as eventually


async def parked_by_a_broken_envelope(outbox: Outbox) -> tuple[Lifecycle, list[str], str]:
    """An appointment's three events, the second broken after its commit and parked by a
    real relay while the others flow; returns the lifecycle, its event ids, the parked one.
    """
    life = Lifecycle().to(AppointmentStatus.SCHEDULED).edited()
    ids = await outbox.commit(life.history)
    broken = ids[1]
    await outbox.rows.update_one({"_id": broken}, {"$set": {"envelope.actor": 7}})
    async with outbox.running(outbox.relay()):

        async def parked() -> dict[str, Any] | None:
            return await outbox.rows.find_one({"_id": broken, "parked": True})

        await eventually(parked, what="the broken row is parked")
        await outbox.drained()
    return life, ids, broken


async def test_a_repaired_parked_event_is_republished_after_a_dry_run(outbox: Outbox) -> None:
    life, ids, broken = await parked_by_a_broken_envelope(outbox)
    # The cause is fixed: the row repaired (here, by hand).
    await outbox.rows.update_one({"_id": broken}, {"$set": {"envelope.actor": "staff:1"}})

    preview = await republish(outbox.database, None, dry_run=True)
    assert [e.event_id for e in preview.events] == [broken]
    assert preview.events[0].last_error is not None
    assert preview.events[0].last_error.startswith("contract violation: ")
    assert (preview.dry_run, preview.requeued) == (True, 0)
    assert (await outbox.status()).parked == 1  # the dry run changed nothing

    done = await republish(outbox.database, [broken])
    assert done.requeued == 1
    row = await outbox.rows.find_one({"_id": broken})
    assert row is not None
    assert (row["parked"], row["attempts"], row["published_at"]) == (False, 0, None)
    assert (await outbox.status()).backlog == 1

    async with outbox.running(outbox.relay()):
        records = await outbox.read_topic(at_least=len(ids))
        status = await outbox.drained()
    assert (status.backlog, status.parked) == (0, 0)
    assert await outbox.published_ids() == set(ids)
    # It went out after its appointment's later event: consumers order by version.
    assert [e["data"]["version"] for e in by_key(records)[life.id]] == [1, 3, 2]


async def test_unknown_published_or_waiting_events_refuse_the_whole_command(
    outbox: Outbox,
) -> None:
    _, ids, broken = await parked_by_a_broken_envelope(outbox)
    published = ids[0]
    (waiting,) = await outbox.commit(edits(1))  # no relay runs now: it waits in the queue

    with pytest.raises(RepublishRefused) as refused:
        await republish(outbox.database, [broken, "no-such-event", published, waiting])
    reasons = refused.value.reasons
    assert reasons[0] == "no-such-event: no such outbox event"
    assert reasons[1].startswith(f"{published}: already published at ")
    assert reasons[2] == f"{waiting}: not parked, it is waiting in the queue already"
    assert len(reasons) == 3
    status = await outbox.status()
    assert (status.parked, status.backlog) == (1, 1)  # nothing changed, the good id neither


async def test_the_command_lists_republishes_and_refuses(outbox: Outbox) -> None:
    _, _, broken = await parked_by_a_broken_envelope(outbox)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", "relay", "republish", *args],
            cwd=ROOT,
            env=environment(outbox.settings),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    dry = await asyncio.to_thread(run, "--all-parked", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"{broken}  appointment ")
    assert "dry run: 1 parked events would be republished" in dry.stdout

    unknown = await asyncio.to_thread(run, "no-such-event")
    assert unknown.returncode == 2
    assert "refused: no-such-event: no such outbox event" in unknown.stderr
    assert (await outbox.status()).parked == 1

    done = await asyncio.to_thread(run, broken)
    assert done.returncode == 0, done.stderr
    assert "republished 1 parked events" in done.stdout
    assert (await outbox.status()).parked == 0
