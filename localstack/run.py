"""``make run``: the whole service on the local stack with sample data, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from loguru import logger

from config import load_settings
from config.logging import configure_logging
from localstack.seed import WAITED_FOR_DOCTOR, WAITING_PATIENT, seed, seed_waitlist
from localstack.service import LocalService
from workflows.backfill import run_backfill

BANNER = """
Appointment Service is running on the local stack.

  API docs (Swagger)   {api}/docs
  REST API             {api}/api/v1/appointments
  GraphQL (GraphiQL)   {api}/graphql
  Metrics              {api}/metrics  (worker: http://127.0.0.1:{worker_metrics}/metrics)
  Temporal Web UI      {ui}  (payloads encrypted; decoded by {api}/codec for admins)
  MongoDB              {mongo}
  Kafka bootstrap      {kafka}
  Patient simulator    {patient}/patients
  Doctor simulator     {doctor}/doctors
  Billing simulator    {billing}/invoices
  Logs                 {logs}
  Messages the Notification Service would send: {logs}/notifications.log
  Outbox backlog       .venv/bin/appointment-service relay status

Tokens (valid {ttl_hours} h; Swagger's Authorize button takes them as they are):
{tokens}
A saga's history in plaintext, through the codec (admins only):
  .venv/bin/temporal workflow show -w <workflow id> --address {temporal} \
    --codec-endpoint {api}/codec --codec-auth "Bearer <the admin token>"

Book one (a slot free right now):
  TOKEN={staff_token}
  curl -s -X POST {api}/api/v1/appointments -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer $TOKEN" \\
    -H "Idempotency-Key: demo-$(date +%s%N)" \\
    -d '{{"patient_id": "pat-anna-schmidt", "doctor_id": "doc-on-call",
         "start": "{slot}", "duration_minutes": 15}}'

The waitlist: {waiting} waits for {waited_for} (sample data). Cancel one of
{waited_for}'s appointments and the freed slot is offered to her: an offer round
(Web UI: WorkflowType="SlotOfferWorkflow"), `GET {api}/api/v1/waitlist?patient_id={waiting}`
shows the offer, {logs}/notifications.log the message with its accept link. A round
within minutes: APPOINTMENTS_WAITLIST_OFFER_MINUTES=1 make run (README "The waitlist").

Ctrl-C stops everything; data stays in {data}.
"""


# One ready-made caller per role: the doctor and the patient are sample data's own.
SAMPLE_CALLERS = (
    ("admin", "admin-1"),
    ("staff", "frontdesk-1"),
    ("doctor", "doc-on-call"),
    ("patient", "pat-anna-schmidt"),
)
TOKEN_TTL_MINUTES = 12 * 60


def next_free_slot(doctor_url: str, doctor_id: str = "doc-on-call") -> str:
    """A slot free right now, so the printed curl works as it is."""
    start = datetime.now(UTC) + timedelta(hours=1)
    window = {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}
    answer = httpx.get(f"{doctor_url}/doctors/{doctor_id}/availability", params=window)
    slots = answer.raise_for_status().json()["slots"]
    return str(slots[0]["start"]) if slots else "<no free slot this week>"


def give_journeys(service: LocalService) -> None:
    """The journeys of appointments from a run before journeys existed (the command
    ``appointment-service journey backfill``); seeded and new bookings get theirs from
    their booking saga, so a later start finds every one with its journey."""
    try:
        tally = asyncio.run(run_backfill(service.settings, progress=False))
    except Exception as error:  # the stack works without; the command can be run later
        logger.warning(
            "journey backfill failed ({}); run `appointment-service journey backfill`", error
        )
        return
    if tally.started:
        logger.info("started the journeys of {} earlier appointments", tally.started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="appointment-service run")
    parser.add_argument("--no-seed", action="store_true", help="skip the sample appointments")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings, "run")
    service = LocalService(Path(settings.data_dir))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    logger.info("starting the local stack in {}", service.data_dir)
    service.start()
    try:
        marker = service.data_dir / "seeded"
        if not args.no_seed and not marker.exists():
            count = asyncio.run(
                seed(
                    service.api_url,
                    service.peer_url("doctor"),
                    service.peer_url("patient"),
                    service.token("staff", "seed"),
                )
            )
            marker.write_text(f"{count}\n")
            logger.info("seeded {} sample appointments", count)
            entry = asyncio.run(
                seed_waitlist(
                    service.api_url, service.peer_url("doctor"), service.token("staff", "seed")
                )
            )
            logger.info("sample waitlist entry: {}", entry)
        give_journeys(service)
        print(
            BANNER.format(
                api=service.api_url,
                ui=service.infra.temporal_ui_url,
                temporal=service.infra.temporal_address,
                mongo=service.infra.mongo_uri,
                kafka=service.infra.kafka_bootstrap,
                patient=service.peer_url("patient"),
                doctor=service.peer_url("doctor"),
                billing=service.peer_url("billing"),
                worker_metrics=service.ports.worker_metrics,
                logs=service.infra.log_dir,
                data=service.data_dir,
                waiting=WAITING_PATIENT,
                waited_for=WAITED_FOR_DOCTOR,
                slot=next_free_slot(service.peer_url("doctor")),
                ttl_hours=TOKEN_TTL_MINUTES // 60,
                tokens="".join(
                    f"  {role:<8}{subject:<20}{service.token(role, subject, TOKEN_TTL_MINUTES)}\n"
                    for role, subject in SAMPLE_CALLERS
                ),
                staff_token=service.token("staff", "frontdesk-1", TOKEN_TTL_MINUTES),
            ),
            flush=True,
        )
        stop.wait()
    finally:
        logger.info("stopping")
        service.stop()
