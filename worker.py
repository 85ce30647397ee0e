"""The Temporal worker: runs the saga workflows and their activities (one process per
deployment, replicas on one task queue). ``python -m worker`` or
``appointment-service worker``."""

from __future__ import annotations

import asyncio
import signal

from loguru import logger
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.lifecycle import LifecycleActivities
from config import Settings, load_settings
from config.logging import configure_logging
from peers import Peers
from persistence import AppointmentStore, connect
from workflows.booking import BookingWorkflow
from workflows.cancellation import CancellationWorkflow
from workflows.client import connect_temporal
from workflows.reschedule import RescheduleWorkflow


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    temporal = await connect_temporal(settings)
    mongo = await connect(settings)
    peers = Peers.from_settings(settings)
    store = AppointmentStore(mongo, settings.kafka_topic)
    booking = BookingActivities(peers, store, settings)
    lifecycle = LifecycleActivities(peers, store, settings)
    worker = Worker(
        temporal,
        task_queue=settings.temporal_task_queue,
        workflows=[BookingWorkflow, CancellationWorkflow, RescheduleWorkflow],
        activities=[*booking.all(), *lifecycle.all()],
    )
    logger.info("worker polling task queue {}", settings.temporal_task_queue)
    try:
        async with worker:
            await stop.wait()
            logger.info("worker stopping: finishing in-flight tasks")
    finally:
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
