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


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
