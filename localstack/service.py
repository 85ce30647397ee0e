"""The whole service on the local stack: infrastructure (Infra), the peers' simulators,
the worker and the API, each a managed process. ``make run`` and the end-to-end tests
start the very same thing, the tests on free ports."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Self

import httpx
from pymongo import MongoClient
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from api.security.tokens import ensure_local_secret, issue_local_token
from application.permissions import Role
from config import Settings, load_settings
from localstack.ports import free_port
from localstack.processes import ManagedProcess, Supervisor
from localstack.servers import HOST, Infra, InfraPorts, ensure_topic
from projections.read_view import CHECKPOINTS
from workflows.client import connect_temporal
from workflows.codec import ensure_local_payload_keys

# Per-caller quotas (application/quotas.py) lifted, for stacks where one caller books
# thousands of appointments for a few patients: the benchmark and the end-to-end suite
# (the quotas themselves are tested in process, tests/unit).
LIFTED_QUOTAS: dict[str, object] = {
    "saga_requests_per_minute": 1_000_000.0,
    "saga_request_burst": 100_000,
    "pending_lookups_per_minute": 1_000_000.0,
    "pending_lookup_burst": 100_000,
    "patient_max_active_appointments": 100_000,
}


@dataclass(frozen=True)
class ServicePorts:
    infra: InfraPorts = field(default_factory=InfraPorts)
    api: int = 8000
    patient: int = 8101
    doctor: int = 8102
    billing: int = 8103
    worker_metrics: int = 9464

    @classmethod
    def free(cls) -> Self:
        infra = InfraPorts.free()
        taken = {getattr(infra, f.name) for f in fields(infra)}
        picked: list[int] = []
        while len(picked) < 5:
            port = free_port()
            if port not in taken and port not in picked:
                picked.append(port)
        return cls(infra, *picked)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class LocalService:
    def __init__(
        self,
        data_dir: Path,
        ports: ServicePorts | None = None,
        overrides: dict[str, object] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.ports = ports or ServicePorts()
        p = self.ports
        # The Web UI shows payloads through the API's codec, which decrypts for admins.
        self.infra = Infra(self.data_dir, p.infra, ui_codec_endpoint=f"http://{HOST}:{p.api}/codec")
        self.overrides: dict[str, object] = {
            **self.infra.settings_overrides(),
            "api_port": p.api,
            # Reminders' action links point at this stack's API.
            "public_base_url": f"http://{HOST}:{p.api}",
            # Every process encrypts Temporal payloads, with the key file made on first run
            # (<data>/payload-keys, see start()).
            "payload_encryption": True,
            "patient_service_url": f"http://{HOST}:{p.patient}",
            "doctor_service_url": f"http://{HOST}:{p.doctor}",
            "billing_service_url": f"http://{HOST}:{p.billing}",
            "worker_metrics_port": p.worker_metrics,
            # Files under <data>/logs hold one JSON object per line: grep a request id.
            "log_json": True,
            **(overrides or {}),
        }
        self.settings: Settings = load_settings(**self.overrides)
        env = {f"APPOINTMENTS_{k.upper()}": str(v) for k, v in self.overrides.items()}
        self.env = env  # what every process of this stack runs with (maintenance commands too)
        log_dir = self.infra.log_dir
        python = sys.executable
        self.simulators = ManagedProcess(
            "simulators",
            [
                python, "-m", "simulators",
                "--patient-port", str(p.patient),
                "--doctor-port", str(p.doctor),
                "--billing-port", str(p.billing),
                "--state-dir", str(self.data_dir / "simulators"),
            ],
            log_dir=log_dir,
            port=p.billing,
            ready=lambda: all(
                _http_ok(f"http://{HOST}:{port}/health")
                for port in (p.patient, p.doctor, p.billing)
            ),
        )  # fmt: skip
        self.worker = ManagedProcess(
            "worker", [python, "-m", "worker"], log_dir=log_dir, env=env, ready=self._worker_polls
        )

        def command(name: str, **options: Any) -> ManagedProcess:
            """``appointment-service <name>`` as a managed process of this stack."""
            argv = [python, "-m", "cli", name]
            return ManagedProcess(name, argv, log_dir=log_dir, env=env, **options)

        self.api = command(
            "api",
            port=p.api,
            ready=lambda: _http_ok(f"{self.api_url}/health/ready"),
            # On SIGTERM the API drains: a booking in flight may wait out its whole budget.
            stop_timeout=self.settings.booking_wait_seconds + 10,
        )
        # The outbox relay and the Notification Service's stand-in have no port: each is
        # ready once it runs, and catches up by itself. The projector is ready once it has
        # caught up with the event store and saved its first checkpoint, so a schedule read
        # right after start already sees every appointment made before.
        self.relay, self.notifications = command("relay"), command("notifications")
        self.projector = command("projector", ready=self._projector_checkpointed)
        self._apps = Supervisor(
            [
                self.simulators,
                self.worker,
                self.api,
                self.relay,
                self.projector,
                self.notifications,
            ]
        )

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    def peer_url(self, peer: str) -> str:
        return str(self.overrides[f"{peer}_service_url"])

    async def _worker_polls(self) -> bool:
        """Ready once Temporal sees a poller on our task queue: then a started saga runs."""
        client = await connect_temporal(self.settings)
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.settings.temporal_namespace,
                task_queue=TaskQueue(name=self.settings.temporal_task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return len(answer.pollers) > 0

    def _projector_checkpointed(self) -> bool:
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.settings.mongo_uri, serverSelectionTimeoutMS=1000
        )
        try:
            database = client[self.settings.mongo_database]
            return database[CHECKPOINTS].count_documents({}, limit=1) > 0
        finally:
            client.close()

    def token(self, role: str, subject: str, ttl_minutes: int = 60) -> str:
        """A Bearer token this stack's API accepts."""
        return issue_local_token(self.settings, Role(role), subject, ttl_minutes)

    def start(self, timeout: float = 90.0) -> None:
        ensure_local_secret(self.settings.jwt_secret_path)
        # The action links' secret, shared by the API and the worker (<data>/action-link-secret).
        if self.settings.action_link_secret is None:
            ensure_local_secret(self.settings.action_link_secret_path)
        if self.settings.payload_encryption and self.settings.payload_keys is None:
            ensure_local_payload_keys(self.settings.payload_keys_path)
        self.infra.start(timeout=timeout)
        try:
            asyncio.run(self._ensure_topics())
            self._apps.start(timeout=timeout, concurrently=True)
        except BaseException:
            self.infra.stop()
            raise

    async def _ensure_topics(self) -> None:
        """The appointments' topic and the waitlist's (the broker creates none by itself)."""
        for topic in (self.settings.kafka_topic, self.settings.waitlist_topic):
            await ensure_topic(self.infra.kafka_bootstrap, topic)

    def stop(self) -> None:
        try:
            self._apps.stop(concurrently=True)
        finally:
            self.infra.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
