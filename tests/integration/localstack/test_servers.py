"""The local stack's servers start on free ports, work, stop cleanly and keep their data."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from localstack.ports import free_port
from localstack.processes import (
    ManagedProcess,
    ProcessExitedError,
    ReadinessTimeoutError,
    Supervisor,
)
from localstack.servers import SEARCH_ATTRIBUTES, Infra, InfraPorts, ensure_topic
from tests.waiting import eventually

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with Infra(tmp_path_factory.mktemp("stack"), InfraPorts.free()) as stack:
        yield stack


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (PID 1 in a container may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def custom_search_attributes(address: str) -> set[str]:
    client = await Client.connect(address)
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    return set(response.custom_attributes)


async def test_mongo_transaction_commits(infra: Infra) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongo_uri)
    try:
        visits = client["localstack_test"]["visits"]
        async with client.start_session() as session, await session.start_transaction():
            await visits.insert_one({"_id": "tx-1"}, session=session)
            await visits.insert_one({"_id": "tx-2"}, session=session)
        assert await visits.count_documents({"_id": {"$in": ["tx-1", "tx-2"]}}) == 2
    finally:
        await client.close()


async def test_temporal_has_the_search_attributes(infra: Infra) -> None:
    names = await custom_search_attributes(infra.temporal_address)
    assert {name for name, _ in SEARCH_ATTRIBUTES} <= names


async def test_kafka_round_trip(infra: Infra) -> None:
    topic = f"test.{uuid.uuid4().hex}"
    assert await ensure_topic(infra.kafka_bootstrap, topic) is True
    assert await ensure_topic(infra.kafka_bootstrap, topic) is False  # already exists

    # Tansu refuses the idempotent producer.
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"booked", key=b"appt-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=infra.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"appt-1", b"booked")


async def test_data_survives_a_restart_of_the_stack(infra: Infra) -> None:
    marker = uuid.uuid4().hex
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongo_uri)
    try:
        await client["localstack_test"]["markers"].insert_one({"_id": marker})
    finally:
        await client.close()
    # A workflow with no worker stays open; finding it again proves the db file was kept
    # (the search attributes alone would not: they are registered at every start).
    appointment_id = SearchAttributeKey.for_keyword("AppointmentId")
    temporal = await Client.connect(infra.temporal_address)
    await temporal.start_workflow(
        "NoSuchWorkflow",
        id=f"survivor-{marker}",
        task_queue="no-worker",
        search_attributes=TypedSearchAttributes([SearchAttributePair(appointment_id, marker)]),
    )
    pids = [p.pid for p in (infra.mongo, infra.temporal, infra.kafka) if p.pid is not None]

    await asyncio.to_thread(infra.stop)
    assert not [pid for pid in pids if pid_alive(pid)]

    await asyncio.to_thread(infra.start)  # same ports, same data dir
    client = AsyncMongoClient(infra.mongo_uri)
    try:
        assert await client["localstack_test"]["markers"].find_one({"_id": marker})
    finally:
        await client.close()
    names = await custom_search_attributes(infra.temporal_address)
    assert {name for name, _ in SEARCH_ATTRIBUTES} <= names
    temporal = await Client.connect(infra.temporal_address)
    survivor = await temporal.get_workflow_handle(f"survivor-{marker}").describe()
    assert survivor.typed_search_attributes.get(appointment_id) == marker


def test_stop_kills_the_whole_group_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    process = ManagedProcess(
        "stubborn", [sys.executable, "-c", script], log_dir=tmp_path, ready=child_pid_file.exists
    )
    with process:
        leader = process.pid
        child = int(child_pid_file.read_text())
        assert pid_alive(child)
        started = time.monotonic()
        process.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert leader is not None
    # SIGKILL reaches the group at once; a busy machine may take a moment to end each
    # process of it (the check runs right after stop returns).
    eventually(lambda: not pid_alive(leader), within=5, what="the leader is gone")
    eventually(lambda: not pid_alive(child), within=5, what="its child is gone")
    assert not process.is_running


def test_a_process_dying_at_start_raises_with_its_log_tail(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('unknown flag --frobnicate'); sys.exit(3)"]
    process = ManagedProcess("broken", argv, log_dir=tmp_path, ready=free_port())
    process.start()
    started = time.monotonic()
    with pytest.raises(ProcessExitedError, match="exited with code 3") as excinfo:
        process.wait_ready(timeout=20)
    assert time.monotonic() - started < 5  # fails fast, not at the timeout
    assert "unknown flag --frobnicate" in excinfo.value.log_tail
    assert "unknown flag --frobnicate" in str(excinfo.value)


def test_a_process_that_never_gets_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    process = ManagedProcess(
        "silent", SLEEPER, log_dir=tmp_path, ready=lambda: False, ready_timeout=0.5
    )
    with pytest.raises(ReadinessTimeoutError), process:
        pass
    assert not process.is_running


def test_supervisor_stops_what_it_started_when_a_later_process_fails(tmp_path: Path) -> None:
    first = ManagedProcess("first", SLEEPER, log_dir=tmp_path)
    broken = ManagedProcess(
        "broken", [sys.executable, "-c", "raise SystemExit(2)"], log_dir=tmp_path, ready=free_port()
    )
    supervisor = Supervisor([first, broken])
    with pytest.raises(ProcessExitedError):
        supervisor.start(timeout=10)
    assert first.pid is not None
    assert not pid_alive(first.pid)


def test_a_port_held_by_another_process_does_not_count_as_ready(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        process = ManagedProcess("late", SLEEPER, log_dir=tmp_path, ready=port, ready_timeout=0.5)
        with pytest.raises(ReadinessTimeoutError), process:
            pass


def test_kill_and_restart(tmp_path: Path) -> None:
    with ManagedProcess("sleeper", SLEEPER, log_dir=tmp_path) as process:
        first = process.pid
        assert first is not None
        process.kill()
        assert not pid_alive(first)
        assert process.returncode == -signal.SIGKILL
        process.restart()
        assert process.is_running
        assert process.pid != first
