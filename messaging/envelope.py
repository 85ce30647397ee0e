"""The Kafka value of one event (ARCHITECTURE §4), built here and validated against the
contract by ``messaging.contract``: the outbox row the unit of work writes carries it, so
the relay publishes it as it is. Pure (no database), so contract tests build it directly."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from domain.clock import utc
from domain.events import SCHEMA_VERSION, AppointmentEvent
from domain.model import Appointment
from domain.waitlist import WaitlistEntry, WaitlistEvent

# The appointment's free text: why the patient comes, and the clinic's notes. Health data,
# and no consumer needs it (the Notification Service words its messages from ids and
# times), so it never reaches Kafka: each is null in ``data``. The keys stay, typed as
# before (version 1 requires them), so no consumer breaks; ``changed`` still names them,
# so a consumer learns that the text changed, and reads it from the API if it may.
WITHHELD = ("reason", "notes")


def envelope(event: AppointmentEvent, state: Appointment) -> dict[str, Any]:
    """``{event_id, type, schema_version, occurred_at, appointment_id, actor, data}``, as
    messaging/schemas/appointment-event.v1.schema.json describes it. ``data`` is the
    appointment after the change, so a consumer needs no second look-up, without its free
    text (``WITHHELD``), and ``changed`` names the fields the event changed."""
    data = {k: _json_value(v) for k, v in dataclasses.asdict(state).items()}
    data |= dict.fromkeys(WITHHELD)
    data["end"] = _json_value(state.end)
    data["changed"] = sorted(event.after)
    value = {
        "event_id": event.event_id,
        "type": event.type.value,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": _json_value(event.occurred_at),
        "appointment_id": event.appointment_id,
        "actor": event.context.actor,
        "data": data,
    }
    if event.details:  # what the event tells beyond the state (a reminder's links)
        value["details"] = {k: _json_value(v) for k, v in event.details.items()}
    return value


# The waitlist entry's free text (what the patient told the clinic when joining): health
# data no consumer needs, left out of ``data`` altogether (the waitlist's contract never
# had it).
WAITLIST_WITHHELD = ("note",)
# Bookkeeping of the store, not the entry's story: ``version`` and ``joined_at`` tell it.
_WAITLIST_INTERNAL = ("updated_at",)


def waitlist_envelope(event: WaitlistEvent, entry: WaitlistEntry) -> dict[str, Any]:
    """``{event_id, type, schema_version, occurred_at, entry_id, actor, data, details?}``,
    as messaging/schemas/waitlist-event.v1.schema.json describes it: ``data`` is the entry
    after the change with its offers, without its free text (``WAITLIST_WITHHELD``);
    ``details`` what the event tells beyond it (an offer's times and links)."""
    data = {
        k: _json_value(v)
        for k, v in dataclasses.asdict(entry).items()
        if k not in WAITLIST_WITHHELD + _WAITLIST_INTERNAL
    }
    data["offers"] = [{k: _json_value(v) for k, v in offer.items()} for offer in data["offers"]]
    value: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type.value,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": _json_value(event.occurred_at),
        "entry_id": event.entry_id,
        "actor": event.actor,
        "data": data,
    }
    if event.details:
        value["details"] = _json_safe(event.details)
    return value


def _json_safe(value: Any) -> Any:
    """``value`` with every nested instant, enum and tuple made JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return _json_value(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
