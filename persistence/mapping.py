"""Translation between the pure domain objects and the Beanie documents."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from domain.clock import utc
from domain.events import AppointmentEvent, EventContext, EventType
from domain.model import Appointment
from domain.status import AppointmentStatus
from messaging.envelope import envelope
from persistence import documents as db


def _bson_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def to_document(state: Appointment) -> db.Appointment:
    values = dataclasses.asdict(state)
    values["reminders_sent"] = list(state.reminders_sent)
    return db.Appointment(**values, end=state.end, cells=state.cells)


def from_document(doc: db.Appointment) -> Appointment:
    names = {f.name for f in dataclasses.fields(Appointment)}
    values = {k: v for k, v in doc.model_dump().items() if k in names}
    return Appointment(**_restore(values))


def event_to_document(event: AppointmentEvent) -> db.AppointmentEvent:
    ctx = event.context
    return db.AppointmentEvent(
        id=event.event_id,
        appointment_id=event.appointment_id,
        seq=event.seq,
        type=event.type.value,
        occurred_at=utc(event.occurred_at),
        actor=ctx.actor,
        reason=ctx.reason,
        workflow_id=ctx.workflow_id,
        run_id=ctx.run_id,
        request_id=ctx.request_id,
        before={k: _bson_value(v) for k, v in event.before.items()},
        after={k: _bson_value(v) for k, v in event.after.items()},
        details={k: _bson_value(v) for k, v in event.details.items()},
    )


_DATETIME_FIELDS = {"start", "created_at", "updated_at", "no_show_at"}


def _restore(values: dict[str, Any]) -> dict[str, Any]:
    """Stored values as the domain has them: aware UTC instants, the status, tuples."""
    restored = dict(values)
    for key in _DATETIME_FIELDS & restored.keys():
        if restored[key] is not None:
            restored[key] = utc(restored[key])
    if "status" in restored:
        restored["status"] = AppointmentStatus(restored["status"])
    if "reminders_sent" in restored:
        restored["reminders_sent"] = tuple(restored["reminders_sent"] or ())
    return restored


def event_from_document(doc: db.AppointmentEvent) -> AppointmentEvent:
    return AppointmentEvent(
        event_id=doc.id,
        appointment_id=doc.appointment_id,
        seq=doc.seq,
        type=EventType(doc.type),
        occurred_at=utc(doc.occurred_at),
        context=EventContext(
            actor=doc.actor,
            reason=doc.reason,
            workflow_id=doc.workflow_id,
            run_id=doc.run_id,
            request_id=doc.request_id,
        ),
        before=_restore(doc.before),
        after=_restore(doc.after),
        details=dict(doc.details),
    )


def outbox_row(event: AppointmentEvent, state: Appointment, topic: str) -> db.OutboxEvent:
    """The outbox row of one change; ``seq`` lets the relay keep an appointment's events
    in order even where two of them carry the same (or a skewed) ``created_at``."""
    return db.OutboxEvent(
        id=event.event_id,
        topic=topic,
        key=event.appointment_id,
        seq=event.seq,
        envelope=envelope(event, state),
        created_at=utc(event.occurred_at),
    )
