"""The Temporal worker: runs the saga workflows and their activities (one process per
deployment, replicas on one task queue). ``python -m worker`` or
``appointment-service worker``.

Its Prometheus metrics (saga outcomes, step latencies, peer breakers, outbox) are served on
``worker_metrics_port`` (``telemetry``)."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from loguru import logger
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.appointments import AppointmentActivities
from activities.journey import JourneyActivities
from activities.journey_start import JourneyStarts
from activities.peers import PeerActivities
from activities.waitlist import WaitlistActivities
from activities.waitlist_sweep import sweep_forever
from application.action_links import ActionLinks
from config import Settings, load_settings
from config.logging import configure_logging
from domain.errors import BUSINESS_ERRORS
from messaging.status import relay_status
from peers import Peers
from persistence import AppointmentStore, connect
from persistence.waitlist_store import WaitlistStore
from telemetry.exporter import exported
from telemetry.interceptor import SagaMetricsInterceptor
from telemetry.metrics import WorkerMetrics
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.client import connect_temporal
from workflows.journey import AppointmentJourneyWorkflow
from workflows.no_show_reversal import NoShowReversalWorkflow
from workflows.reschedule import RescheduleWorkflow
from workflows.waitlist_offers import SlotOfferWorkflow

WORKFLOWS = [
    BookingWorkflow,
    CancellationWorkflow,
    RescheduleWorkflow,
    AppointmentJourneyWorkflow,
    NoShowReversalWorkflow,
    SlotOfferWorkflow,
]


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """How the worker runs its workflows. Temporal's sandbox re-imports a workflow's module
    for every run and guards each call the workflow makes, which cost 40% of the worker's
    CPU per booking (issue #18). Its checks run where they find faults before production:
    the workflow tests build their workers with the SDK's default, the sandbox, so a
    non-deterministic call (a clock, a random number, I/O) fails there, and the recorded
    histories replay sandboxed. ``workflow_sandbox`` turns it on here as well."""
    return SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    # A workflow's type is its class name (none is registered under another name).
    metrics = WorkerMetrics(
        refusals=[error.__name__ for error in BUSINESS_ERRORS],
        workflows=[workflow.__name__ for workflow in WORKFLOWS],
    )
    temporal = await connect_temporal(settings)
    mongo = await connect(settings)
    peers = Peers.from_settings(settings)
    metrics.watch(
        breakers=lambda: peers.breakers,
        outbox=lambda: relay_status(mongo[settings.mongo_database]),
    )
    store = AppointmentStore(mongo, settings.kafka_topic)
    waitlist = WaitlistStore(mongo, settings.waitlist_topic)
    links = ActionLinks.from_settings(settings)
    activities = [
        *PeerActivities(peers, store, settings).all(),
        *AppointmentActivities(store, settings).all(),
        # Reminders carry the patient's action links, signed with the secret the API checks.
        *JourneyActivities(
            store,
            peers.doctors,
            settings,
            links.links,
            metrics=metrics.journey,
        ).all(),
        # The booking saga's start of the journey, through the worker's own client.
        *JourneyStarts(temporal, settings.temporal_task_queue).all(),
        # Offer rounds; and the sagas' start of a round when they free a slot (the
        # worker's own client). Offers carry the patient's accept and decline links.
        *WaitlistActivities(
            waitlist,
            peers.doctors,
            settings,
            links.offer_links,
            client=temporal,
            metrics=metrics.waitlist,
        ).all(),
    ]
    worker = Worker(
        temporal,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        interceptors=[SagaMetricsInterceptor(metrics.sagas)],
        workflow_runner=workflow_runner(settings),
        # SIGTERM stops polling at once; activities already running get this long to
        # finish before they are cancelled. Either way Temporal hands unfinished work to
        # another worker: activities are idempotent by their keys, so a retry is safe.
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
    )
    logger.info("worker polling task queue {}", settings.temporal_task_queue)
    # Waitlist entries whose window has passed leave by themselves, swept every minute.
    sweeping = asyncio.create_task(sweep_forever(waitlist, stop), name="waitlist-sweep")
    try:
        port = settings.worker_metrics_port
        async with exported(metrics, host=settings.worker_metrics_host, port=port), worker:
            await stop.wait()
            logger.info("worker stopping: finishing in-flight tasks")
    finally:
        stop.set()
        await sweeping
        await peers.aclose()
        await mongo.close()


def main() -> None:
    settings = load_settings()
    configure_logging(settings, "worker")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
