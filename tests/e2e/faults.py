"""What the fault tests share: waiting for sagas to end, the processes restored, and the
checks of the final state after a crash or a peer fault (the bookings they drive are made
with tests/e2e/support.py's).

A booking saga that survived a fault ends in one of two states, and nothing in between:

- SCHEDULED: exactly one invoice at Billing, OPEN, the one the appointment names; its
  hold at the Doctor Service CONFIRMED;
- FAILED (or never persisted): no invoice OPEN, no hold HELD or CONFIRMED.

Either way its events run 1..version without a gap in MongoDB, each has its outbox row,
and each reaches the Kafka topic at least once. Every check here reads the final state
only; waiting is done by polling with deadlines, never by timing."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo.database import Database
from temporalio.client import WorkflowExecutionStatus

from localstack.processes import ManagedProcess
from localstack.service import LocalService
from tests.e2e.support import DOCTOR, Stack
from tests.waiting import eventually, eventually_async
from workflows.client import connect_temporal

PATIENTS = (
    "pat-anna-schmidt",
    "pat-ben-okafor",
    "pat-chiara-rossi",
    "pat-david-kim",
    "pat-elif-yilmaz",
    "pat-felix-bauer",
    "pat-greta-lindqvist",
    "pat-hugo-moreau",
)
SETTLED = {"SCHEDULED", "FAILED"}
ACTIVE_HOLDS = {"HELD", "CONFIRMED"}


# --- sagas in Temporal --------------------------------------------------------------------


@dataclass(frozen=True)
class SagaEnd:
    status: str  # COMPLETED, FAILED, ... (never RUNNING)
    appointment_id: str  # from the run's memo: known even if it was never persisted


def running_sagas(service: LocalService, workflow_ids: Iterable[str]) -> set[str]:
    """The workflow ids among ``workflow_ids`` whose run is still RUNNING."""

    async def running() -> set[str]:
        client = await connect_temporal(service.settings)
        found: set[str] = set()
        for wid in workflow_ids:
            described = await client.get_workflow_handle(wid).describe()
            if described.status == WorkflowExecutionStatus.RUNNING:
                found.add(wid)
        return found

    return asyncio.run(running())


def wait_sagas_ended(
    service: LocalService, workflow_ids: Iterable[str], within: float = 60.0
) -> dict[str, SagaEnd]:
    """Each saga's end, once none of them runs any more (compensations included)."""

    async def ends() -> dict[str, SagaEnd]:
        client = await connect_temporal(service.settings)
        pending = set(workflow_ids)
        found: dict[str, SagaEnd] = {}

        async def none_running() -> bool:
            for wid in sorted(pending):
                described = await client.get_workflow_handle(wid).describe()
                if described.status not in (None, WorkflowExecutionStatus.RUNNING):
                    memo = await described.memo()
                    found[wid] = SagaEnd(described.status.name, str(memo["appointment_id"]))
            pending.difference_update(found)
            return not pending

        await eventually_async(
            none_running, within, lambda: f"sagas still running: {sorted(pending)}"
        )
        return found

    return asyncio.run(ends())


@contextmanager
def restored(process: ManagedProcess) -> Iterator[None]:
    """However the test ends, the shared process (the worker, the relay) runs again
    afterwards."""
    try:
        yield
    finally:
        if not process.is_running:
            process.start()
            process.wait_ready()


def unread_by_broker(client_pid: int, broker_port: int) -> int:
    """Bytes that process ``client_pid`` sent to the broker on ``broker_port`` and the broker
    has not read yet (Linux, both ends on this host). With the broker frozen, a positive
    number means a request is in flight: for the relay, a batch handed to Kafka that no
    acknowledgement can answer."""
    inodes: set[str] = set()
    for fd in os.listdir(f"/proc/{client_pid}/fd"):
        try:
            target = os.readlink(f"/proc/{client_pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    rows: list[tuple[int, int, int, str]] = []  # local port, remote port, unread, inode
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            unread = int(fields[4].split(":")[1], 16)
            rows.append((local_port, remote_port, unread, fields[9]))
    client_ports = {lp for lp, rp, _, inode in rows if inode in inodes and rp == broker_port}
    return sum(unread for lp, rp, unread, _ in rows if lp == broker_port and rp in client_ports)


# --- the final state ----------------------------------------------------------------------


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def holds_at(stack: Stack, starts: Iterable[str]) -> dict[datetime, list[dict[str, Any]]]:
    """The Doctor Service's holds of the on-call doctor at each of ``starts``."""
    wanted: dict[datetime, list[dict[str, Any]]] = {_instant(s): [] for s in starts}
    for hold in stack.peers["doctor"].get("/holds", params={"doctor_id": DOCTOR}).json():
        at = _instant(hold["start"])
        if at in wanted:
            wanted[at].append(hold)
    return wanted


def assert_settled(stack: Stack, appointment_ids: Collection[str], starts: Iterable[str]) -> None:
    """Every appointment in ``appointment_ids`` is SCHEDULED or FAILED (or was never
    persisted), with the peers' state to match; at every start of ``starts`` no hold is
    left HELD and at most one is CONFIRMED, the SCHEDULED appointment's."""
    stored = stack.appointments(appointment_ids)
    statuses = Counter(row["status"] for row in stored.values())
    assert set(statuses) <= SETTLED, f"not settled: {statuses}"
    holds = {h["id"]: h for h in stack.peers["doctor"].get("/holds").json()}
    billing = stack.peers["billing"]
    for appointment_id in appointment_ids:
        row = stored.get(appointment_id)
        invoices = billing.get("/invoices", params={"appointment_id": appointment_id}).json()
        kept = [(i["id"], i["status"]) for i in invoices]
        if row is not None and row["status"] == "SCHEDULED":
            assert kept == [(row["invoice_id"], "OPEN")], (appointment_id, kept)
            assert holds[row["hold_id"]]["status"] == "CONFIRMED", appointment_id
        else:
            assert all(status == "VOID" for _, status in kept), (appointment_id, kept)
            hold = holds.get(row["hold_id"]) if row is not None and row["hold_id"] else None
            assert hold is None or hold["status"] not in ACTIVE_HOLDS, (appointment_id, hold)
        if row is not None:
            assert_gap_free(stack.mongo, row)
    scheduled_at = Counter(row["start"] for row in stored.values() if row["status"] == "SCHEDULED")
    for at, found in holds_at(stack, starts).items():
        by_status = Counter(h["status"] for h in found)
        assert by_status["HELD"] == 0, f"orphan hold at {at}: {found}"
        assert by_status["CONFIRMED"] == scheduled_at[at] <= 1, f"holds at {at}: {found}"


def assert_gap_free(mongo: Database[dict[str, Any]], row: dict[str, Any]) -> None:
    """The appointment's events run 1..version, each with its outbox row."""
    events = list(mongo["appointment_events"].find({"appointment_id": row["_id"]}).sort("seq"))
    assert [e["seq"] for e in events] == list(range(1, row["version"] + 1)), row["_id"]
    ids = [e["_id"] for e in events]
    outbox = mongo["outbox_events"].count_documents({"_id": {"$in": ids}, "key": row["_id"]})
    assert outbox == len(ids), f"{row['_id']}: {len(ids)} events, {outbox} outbox rows"


def event_ids(mongo: Database[dict[str, Any]], appointment_ids: Collection[str]) -> set[str]:
    found = mongo["appointment_events"].find({"appointment_id": {"$in": sorted(appointment_ids)}})
    return {e["_id"] for e in found}


def read_topic_until(
    service: LocalService, appointment_ids: Collection[str], expected: set[str], within: float
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the topic about ``appointment_ids`` (duplicates included), read from
    the beginning by a fresh consumer outside any group, once every event id of
    ``expected`` is among them. Fails with what is missing after ``within`` seconds."""

    async def read() -> list[ConsumerRecord[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=service.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            topic = service.settings.kafka_topic
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            found: list[ConsumerRecord[bytes, bytes]] = []
            seen: set[str] = set()

            async def everything_read() -> bool:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        if record.key is not None and record.key.decode() in appointment_ids:
                            found.append(record)
                            seen.add(json.loads(record.value or b"{}")["event_id"])
                return expected <= seen

            await eventually_async(
                everything_read,
                within,
                lambda: f"events never reached Kafka: {sorted(expected - seen)}",
            )
            return found
        finally:
            await consumer.stop()

    return asyncio.run(read())


def assert_on_topic(
    stack: Stack, appointment_ids: Collection[str], within: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every event MongoDB holds about ``appointment_ids`` is on the topic at least once,
    keyed by its appointment, and the first delivery of each comes in version order."""
    expected = event_ids(stack.mongo, appointment_ids)
    records = read_topic_until(stack.service, set(appointment_ids), expected, within)
    first_versions: dict[str, list[int]] = {}
    delivered: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = json.loads(record.value or b"{}")
        assert record.key is not None
        assert envelope["appointment_id"] == record.key.decode()
        if envelope["event_id"] not in delivered:
            delivered.add(envelope["event_id"])
            first_versions.setdefault(envelope["appointment_id"], []).append(
                envelope["data"]["version"]
            )
    for appointment_id, versions in first_versions.items():
        assert versions == list(range(1, len(versions) + 1)), (appointment_id, versions)
    return records


def assert_outbox_drained(stack: Stack, appointment_ids: Collection[str], within: float) -> None:
    """Every outbox row of these appointments is marked published (none waits, none parked)."""
    rows = stack.mongo["outbox_events"]
    keys = {"key": {"$in": sorted(appointment_ids)}}
    eventually(
        lambda: rows.count_documents({**keys, "published_at": None, "parked": {"$ne": True}}) == 0,
        within,
        "the outbox rows of these appointments are all published",
    )
    assert rows.count_documents({**keys, "parked": True}) == 0
