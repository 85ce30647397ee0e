"""The Notification Service's stand-in on the local stack.

It reads ``appointment.events`` and the waitlist's ``waitlist.events`` the way the real
Notification Service would: in a consumer group, committing offsets only after a message
is recorded. It works out the message a patient would get and records it. Nothing is sent.

Delivery is at least once. The relay may publish an event twice, and a consumer may see
it again after a rebalance or a restart. The record's ``_id`` is the ``event_id``, so a
second copy hits the unique key and is counted as a duplicate instead of a second
message. That is the dedupe ARCHITECTURE §4 asks of every consumer.

The records live in MongoDB (database ``notifications``), not in this process: the
dedupe must survive a restart. The local Kafka broker keeps topics in memory only, so
after a restart it hands out every event again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from loguru import logger
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from config import Settings, load_settings
from config.logging import configure_logging
from messaging.contract import WAITLIST_TYPE_PREFIX
from messaging.kafka import security_options
from persistence.database import open_client

DATABASE = "notifications"
COLLECTION = "sent_messages"
GROUP_ID = "notification-service"


class _Appointment(BaseModel):
    """The part of the envelope's ``data`` a message needs; unknown fields are ignored,
    as the event contract asks of consumers."""

    model_config = ConfigDict(extra="ignore")

    patient_id: str
    doctor_id: str
    start: AwareDatetime
    timezone: str
    status: str


class _Links(BaseModel):
    model_config = ConfigDict(extra="ignore")

    confirm: str
    cancel: str


class _ReminderDetails(BaseModel):
    """The ``details`` of ``appointment.reminder_due`` (the event contract requires them)."""

    model_config = ConfigDict(extra="ignore")

    offset_minutes: int
    start_local: AwareDatetime  # the start in the clinic's zone, with its offset
    timezone: str
    doctor_name: str
    links: _Links


class _FeeVoidedDetails(BaseModel):
    """The ``details`` of ``appointment.no_show_fee_voided``."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: str
    fee_cents: int


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str
    type: str
    schema_version: int
    occurred_at: AwareDatetime
    appointment_id: str
    data: _Appointment
    # What an event tells beyond the state (a reminder's links): optional, its shape
    # depends on the type, so it is read by the message that needs it, not here.
    details: dict[str, Any] | None = None


class _Offer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    start: AwareDatetime
    expires_at: AwareDatetime


class _Entry(BaseModel):
    """The part of a waitlist envelope's ``data`` (the entry) a message needs."""

    model_config = ConfigDict(extra="ignore")

    patient_id: str
    doctor_id: str
    timezone: str
    status: str
    offers: list[_Offer] = []


class _OfferLinks(BaseModel):
    model_config = ConfigDict(extra="ignore")

    accept: str
    decline: str


class _OfferedDetails(BaseModel):
    """The ``details`` of ``waitlist.offered`` (the waitlist contract requires them)."""

    model_config = ConfigDict(extra="ignore")

    offer_id: str
    start: AwareDatetime
    expires_at: AwareDatetime
    links: _OfferLinks
    doctor_name: str | None = None
    local_start: AwareDatetime | None = None


class WaitlistEnvelope(BaseModel):
    """A waitlist event (messaging/schemas/waitlist-event.v1.schema.json): keyed by the
    entry, ``data`` the entry after the change."""

    model_config = ConfigDict(extra="ignore")

    event_id: str
    type: str
    schema_version: int
    occurred_at: AwareDatetime
    entry_id: str
    data: _Entry
    details: dict[str, Any] | None = None


class Message(BaseModel):
    """What the patient would receive, once per event."""

    event_id: str
    appointment_id: str | None = None  # an appointment's event
    entry_id: str | None = None  # a waitlist event
    event_type: str
    recipient: str  # the patient id: the real service looks up the address
    channel: str = "email"  # or "sms+email" (a reminder: it must be seen in time)
    text: str
    occurred_at: datetime


_TEXT: dict[str, str] = {
    "appointment.scheduled": "Your appointment with {doctor} on {when} is booked.",
    "appointment.confirmed": "Your appointment with {doctor} on {when} is confirmed.",
    "appointment.rescheduled": "Your appointment with {doctor} has moved to {when}.",
    "appointment.cancelled": "Your appointment with {doctor} on {when} is cancelled.",
    "appointment.no_show": "You missed your appointment with {doctor} on {when}.",
    "appointment.booking_failed": "We could not book your appointment with {doctor} on {when}.",
}
"""Events a patient hears about. The rest (requested, checked in, completed, edited,
entered in error) are internal steps, and nobody gets a message for them."""

_REVERSED = (
    "Your visit with {doctor} on {when} is on record: our message that you missed it was "
    "a mistake, and no no-show fee stands."
)
"""A reversed no-show corrects the "You missed your appointment" message the patient got."""

_REMINDER = (
    "Reminder: your appointment with {doctor} on {when} ({ahead}). "
    "Confirm: {confirm} Cancel: {cancel}"
)
_FEE_VOIDED = "The no-show fee of {amount} for your appointment with {doctor} on {when} is void."
_CHANNEL_NAMES = {"email": "email", "sms+email": "SMS/email"}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(start: datetime, zone_name: str) -> str:
    return start.astimezone(_zone(zone_name)).strftime("%a %d %b %Y, %H:%M %Z")


def _ahead(before: timedelta) -> str:
    """How long before the start the reminder goes out, as a person says it: "in 24
    hours", "in 10 hours", "in 1 hour", "in 45 minutes" (whole hours from two hours on).
    Measured from when it went out, not from its planned offset: one moved out of quiet
    hours to the evening before says so."""
    minutes = max(round(before.total_seconds() / 60), 1)
    if minutes >= 120:
        return f"in {round(minutes / 60)} hours"
    if minutes == 60:
        return "in 1 hour"
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def _reminder(envelope: Envelope) -> tuple[str, str]:
    """A reminder's text and channel. Without the details the contract requires (an
    event that did not meet it), the patient is still reminded, from ``data``."""
    data = envelope.data
    try:
        details = _ReminderDetails.model_validate(envelope.details or {})
    except ValidationError as exc:
        logger.bind(event_id=envelope.event_id).warning("reminder without its details: {}", exc)
        when = _local(data.start, data.timezone)
        return f"Reminder: your appointment with {data.doctor_id} on {when}.", "sms+email"
    text = _REMINDER.format(
        doctor=details.doctor_name,
        when=_local(details.start_local, details.timezone),
        ahead=_ahead(details.start_local - envelope.occurred_at),
        confirm=details.links.confirm,
        cancel=details.links.cancel,
    )
    return text, "sms+email"


def _fee_voided(envelope: Envelope, doctor: str, when: str) -> str | None:
    try:
        details = _FeeVoidedDetails.model_validate(envelope.details or {})
    except ValidationError:
        return None  # nothing to tell without the amount; the reversal said the rest
    amount = f"{details.fee_cents // 100}.{details.fee_cents % 100:02d}"
    return _FEE_VOIDED.format(amount=amount, doctor=doctor, when=when)


_OFFERED = (
    "A slot with {doctor} on {when} is free for you. Accept by {until}: {accept} Decline: {decline}"
)
_OFFER_EXPIRED = "The slot on {when} we offered you has gone; you stay on the waitlist."
_OFFER_FAILED = "We could not book the slot on {when} for you; you stay on the waitlist."
_FULFILLED = "From the waitlist: the slot on {when} is yours, and your appointment is booked."


def _offered(envelope: WaitlistEnvelope) -> str | None:
    """An offer's text: whom with, when, until when, and the two answers. Without the
    details the contract requires, nothing can be answered: no message (logged)."""
    data = envelope.data
    try:
        details = _OfferedDetails.model_validate(envelope.details or {})
    except ValidationError as exc:
        logger.bind(event_id=envelope.event_id).warning("offer without its details: {}", exc)
        return None
    start = details.local_start or details.start
    zone = _zone(data.timezone)
    return _OFFERED.format(
        doctor=details.doctor_name or data.doctor_id,
        when=_local(start.astimezone(zone), data.timezone),
        until=details.expires_at.astimezone(zone).strftime("%H:%M %Z"),
        accept=details.links.accept,
        decline=details.links.decline,
    )


def _offer_named(envelope: WaitlistEnvelope) -> _Offer | None:
    """The offer the event's ``details.offer_id`` names, from the entry's offers."""
    offer_id = (envelope.details or {}).get("offer_id")
    return next((o for o in envelope.data.offers if o.id == offer_id), None)


def compose_waitlist(envelope: WaitlistEnvelope) -> Message | None:
    """The message a waitlist event makes: an offer (with its answer links, by SMS and
    email: it must be seen in time), a short line when it expired or booked the slot;
    None for the rest (joining, declining and leaving are the patient's own doing)."""
    data = envelope.data
    text: str | None = None
    channel = "email"
    if envelope.type == "waitlist.offered":
        text, channel = _offered(envelope), "sms+email"
    elif envelope.type in ("waitlist.offer_expired", "waitlist.fulfilled"):
        offer = _offer_named(envelope)
        if offer is not None:
            when = _local(offer.start, data.timezone)
            if envelope.type == "waitlist.fulfilled":
                text = _FULFILLED.format(when=when)
            elif (envelope.details or {}).get("reason") == "booking_failed":
                text = _OFFER_FAILED.format(when=when)
            else:
                text = _OFFER_EXPIRED.format(when=when)
    if text is None:
        return None
    return Message(
        event_id=envelope.event_id,
        entry_id=envelope.entry_id,
        event_type=envelope.type,
        recipient=data.patient_id,
        channel=channel,
        text=text,
        occurred_at=envelope.occurred_at,
    )


def compose(envelope: Envelope) -> Message | None:
    """The message an event makes, or None for events nobody is told about."""
    data = envelope.data
    doctor, when = data.doctor_id, _local(data.start, data.timezone)
    channel = "email"
    text: str | None
    if envelope.type == "appointment.reminder_due":
        text, channel = _reminder(envelope)
    elif envelope.type == "appointment.no_show_reversed":
        text = _REVERSED.format(doctor=doctor, when=when)
    elif envelope.type == "appointment.no_show_fee_voided":
        text = _fee_voided(envelope, doctor, when)
    else:
        template = _TEXT.get(envelope.type)
        text = template.format(doctor=doctor, when=when) if template else None
    if text is None:
        return None
    return Message(
        event_id=envelope.event_id,
        appointment_id=envelope.appointment_id,
        event_type=envelope.type,
        recipient=data.patient_id,
        channel=channel,
        text=text,
        occurred_at=envelope.occurred_at,
    )


class SentMessages:
    """The consumer's record of every event it has handled (sent or not), keyed by
    event id: the dedupe that makes at-least-once delivery safe."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._records = database[COLLECTION]

    async def record(self, envelope: Envelope | WaitlistEnvelope) -> bool:
        """True the first time this event is seen, False for a duplicate."""
        subject: dict[str, str]
        if isinstance(envelope, WaitlistEnvelope):
            message, subject = compose_waitlist(envelope), {"entry_id": envelope.entry_id}
        else:
            message, subject = compose(envelope), {"appointment_id": envelope.appointment_id}
        row: dict[str, Any] = {
            "_id": envelope.event_id,
            **subject,
            "event_type": envelope.type,
            "recipient": envelope.data.patient_id,
            "occurred_at": envelope.occurred_at,
            "recorded_at": datetime.now(UTC),
            "message": message.model_dump(mode="json") if message else None,
        }
        try:
            await self._records.insert_one(row)
        except DuplicateKeyError:
            return False
        if message is not None:
            logger.bind(event_id=envelope.event_id, **subject).info(
                "would send {} to patient {}: {}",
                _CHANNEL_NAMES.get(message.channel, message.channel),
                message.recipient,
                message.text,
            )
        return True


def parse(value: bytes | None) -> Envelope | WaitlistEnvelope | None:
    """The envelope (a waitlist event by its type's prefix, else an appointment event), or
    None for a record that is not one (logged and skipped: a consumer that stopped at a
    malformed record would stop every message after it)."""
    try:
        raw = json.loads(value or b"")
        kind = raw.get("type") if isinstance(raw, dict) else None
        if isinstance(kind, str) and kind.startswith(WAITLIST_TYPE_PREFIX):
            return WaitlistEnvelope.model_validate(raw)
        return Envelope.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        logger.warning("skipping a record that is not an appointment or waitlist event: {}", exc)
        return None


class NotificationConsumer:
    def __init__(self, settings: Settings, sent: SentMessages) -> None:
        self._settings = settings
        self._sent = sent
        self.recorded = 0
        self.duplicates = 0

    @property
    def topics(self) -> tuple[str, str]:
        """The appointments' events and the waitlist's."""
        return (self._settings.kafka_topic, self._settings.waitlist_topic)

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=GROUP_ID,
            client_id="notification-service",
            # A new group, or offsets the broker no longer has, start from the beginning:
            # re-reading is harmless (dedupe), skipping is not.
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            # A broker that went away is noticed in seconds, not aiokafka's 40 s default:
            # the local broker restarts empty, and the consumer must find the new topic.
            request_timeout_ms=8_000,
            session_timeout_ms=6_000,
            heartbeat_interval_ms=2_000,
            metadata_max_age_ms=5_000,
            # TLS and SASL as the relay's producer has them (managed Kafka).
            **security_options(self._settings),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; reconnect with backoff while Kafka is away."""
        backoff = 0.5
        while not stop.is_set():
            consumer = self._consumer()
            try:
                await consumer.start()
                logger.info("consuming {}", ", ".join(self.topics))
                backoff = 0.5
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=500, max_records=200)
                    for records in batches.values():
                        for record in records:
                            await self._handle(record.value)
                    if batches:
                        # After the records are stored: a crash before this line means
                        # they come again, and the dedupe absorbs them.
                        await consumer.commit()
            except KafkaError as exc:
                logger.warning("Kafka unavailable ({}); retrying in {:.1f}s", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(KafkaError):
                    await consumer.stop()

    async def _handle(self, value: bytes | None) -> None:
        envelope = parse(value)
        if envelope is None:
            return
        if await self._sent.record(envelope):
            self.recorded += 1
        else:
            self.duplicates += 1
            logger.bind(event_id=envelope.event_id).info("duplicate event ignored")


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client: AsyncMongoClient[dict[str, Any]] = open_client(settings)
    try:
        consumer = NotificationConsumer(settings, SentMessages(client[DATABASE]))
        await consumer.run(stop)
        logger.info("stopped: {} recorded, {} duplicates", consumer.recorded, consumer.duplicates)
    finally:
        await client.close()


def main(argv: list[str]) -> None:
    argparse.ArgumentParser(
        prog="appointment-service notifications",
        description=(
            "The local stand-in of the Notification Service "
            "(reads appointment.events and waitlist.events)."
        ),
    ).parse_args(argv)
    settings = load_settings()
    configure_logging(settings, "notify")
    asyncio.run(_serve(settings))
