"""The relay as the process it runs as (``python -m cli relay``): killed mid-stream it
restarts where it left off (duplicates possible, losses never); SIGTERM ends it cleanly
with everything it got acknowledged marked; ``relay status --json`` reports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from config import Settings
from tests.integration.messaging.conftest import Outbox
from tests.unit.messaging.lifecycles import edits
from tests.waiting import eventually_async as eventually

ROOT = Path(__file__).resolve().parents[3]


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    values = {
        "APPOINTMENTS_MONGO_URI": settings.mongo_uri,
        "APPOINTMENTS_MONGO_DATABASE": settings.mongo_database,
        "APPOINTMENTS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "APPOINTMENTS_KAFKA_TOPIC": settings.kafka_topic,
        "APPOINTMENTS_KAFKA_ENABLE_IDEMPOTENCE": "false",
        "APPOINTMENTS_RELAY_POLL_SECONDS": "0.2",
        "APPOINTMENTS_LOG_LEVEL": "DEBUG",
        **extra,
    }
    return {**os.environ, **values}


class RelayProcess:
    """``python -m cli relay`` in its own session, its output in ``log``."""

    def __init__(self, settings: Settings, log: Path, **extra: str) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "relay"],
                cwd=ROOT,
                env=environment(settings, **extra),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def exit_code(self, within: float = 30.0) -> int:
        return await asyncio.to_thread(self.process.wait, within)

    def ensure_gone(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def relay_processes(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for relay in started:
        relay.ensure_gone()


def event_ids(records: list[ConsumerRecord]) -> list[str]:
    return [json.loads(r.value)["event_id"] for r in records]


def assert_first_deliveries_in_order(records: list[ConsumerRecord]) -> None:
    """Per appointment, the first delivery of each event comes in version order (a
    redelivery after a crash may repeat earlier ones; consumers dedupe by event_id)."""
    seen: dict[str, list[int]] = {}
    delivered: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = json.loads(record.value)
        if envelope["event_id"] not in delivered:
            delivered.add(envelope["event_id"])
            seen.setdefault(envelope["appointment_id"], []).append(envelope["data"]["version"])
    for versions in seen.values():
        assert versions == list(range(1, len(versions) + 1))


async def test_a_killed_relay_restarts_where_it_left_off_and_loses_nothing(
    outbox: Outbox, relay_processes: list[RelayProcess], tmp_path: Path
) -> None:
    ids = await outbox.insert_rows(c for _ in range(30) for c in edits(12))
    small_batches = {"APPOINTMENTS_RELAY_BATCH_SIZE": "10"}
    first = RelayProcess(outbox.settings, tmp_path / "relay.log", **small_batches)
    relay_processes.append(first)

    async def some_published() -> bool:
        return len(await outbox.published_ids()) >= 50

    await eventually(some_published, what="the relay publishes")
    first.signal(signal.SIGKILL)  # mid-stream: no cleanup, its lease stays until it lapses
    assert await first.exit_code() == -signal.SIGKILL
    assert (await outbox.status()).backlog > 0

    second = RelayProcess(outbox.settings, tmp_path / "relay.log", **small_batches)
    relay_processes.append(second)
    await outbox.drained()
    second.signal(signal.SIGTERM)
    assert await second.exit_code() == 0

    records = await outbox.read_topic(at_least=len(ids))
    assert set(event_ids(records)) == set(ids)  # every event at least once
    assert_first_deliveries_in_order(records)
    assert await outbox.published_ids() == set(ids)


async def test_sigterm_finishes_the_batch_marks_what_was_acked_and_exits_0(
    outbox: Outbox, relay_processes: list[RelayProcess], tmp_path: Path
) -> None:
    ids = await outbox.insert_rows(c for _ in range(30) for c in edits(12))
    relay = RelayProcess(outbox.settings, tmp_path / "relay.log", APPOINTMENTS_RELAY_BATCH_SIZE="5")
    relay_processes.append(relay)

    async def some_published() -> bool:
        return len(await outbox.published_ids()) >= 30

    await eventually(some_published, what="the relay publishes")
    relay.signal(signal.SIGTERM)
    assert await relay.exit_code() == 0

    published = await outbox.published_ids()
    assert len(published) < len(ids)  # it stopped mid-stream
    records = await outbox.read_topic(at_least=len(published))
    on_topic = event_ids(records)
    # nothing acknowledged is left unmarked, nothing marked is missing, nothing twice
    assert set(on_topic) == published
    assert len(on_topic) == len(set(on_topic))
    assert "stopped" in relay.log.read_text()


async def test_relay_status_json(outbox: Outbox) -> None:
    await outbox.insert_rows(edits(4))
    command = [sys.executable, "-m", "cli", "relay", "status", "--json"]
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=ROOT,
        env=environment(outbox.settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status = json.loads(done.stdout)
    assert status == {
        "backlog": 4,
        "parked": 0,
        "oldest_unpublished_age_seconds": 0.0,  # stamped in 2030: not waiting yet
        "last_published_at": None,
    }


async def test_a_running_relay_beats_and_relay_alive_says_so(
    outbox: Outbox, relay_processes: list[RelayProcess], tmp_path: Path
) -> None:
    beats = {"APPOINTMENTS_HEARTBEAT_DIR": str(tmp_path / "heartbeat")}

    def alive() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", "relay", "alive"],
            cwd=ROOT,
            env=environment(outbox.settings, **beats),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    before = await asyncio.to_thread(alive)
    assert before.returncode == 1
    assert "relay not alive: no heartbeat at" in before.stdout

    relay = RelayProcess(outbox.settings, tmp_path / "relay.log", **beats)
    relay_processes.append(relay)

    async def beating() -> bool:
        return (await asyncio.to_thread(alive)).returncode == 0

    await eventually(beating, what="the relay's heartbeat")
    relay.signal(signal.SIGTERM)
    assert await relay.exit_code() == 0
