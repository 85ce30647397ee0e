"""Kafka values as the relay publishes them (ARCHITECTURE §4), for the consumer's tests."""

from __future__ import annotations

import uuid
from typing import Any


def event_value(
    event_type: str, appointment_id: str = "a-1", event_id: str | None = None, **data: Any
) -> dict[str, Any]:
    """One event's envelope; ``data`` adds or replaces fields of the appointment."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "schema_version": 1,
        "occurred_at": "2030-01-07T08:00:00+00:00",
        "appointment_id": appointment_id,
        "actor": "staff:s-1",
        "data": {
            "patient_id": "p-1",
            "doctor_id": "d-1",
            "start": "2030-01-07T09:00:00+00:00",
            "timezone": "Europe/Berlin",
            "status": "SCHEDULED",
            **data,
        },
    }
