"""Folding events into a read-view row: pure Python, no database.

The events are applied by the domain's one fold (``domain.model.fold``, which
``domain.model.replay`` uses too): an appointment's state is its events' ``after`` values
applied in ``seq`` order. A row remembers the seq of its last event
(``version``), so a row can be brought forward by the events after it alone, and an event
at or below that version is already in it (which makes folding idempotent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain import model
from domain.clock import utc
from domain.model import BrokenEventLog
from domain.status import AppointmentStatus


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """What the view needs of one event of the event store (``appointment_events``)."""

    appointment_id: str
    seq: int
    occurred_at: datetime
    after: Mapping[str, Any]

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> StoredEvent:
        return cls(
            appointment_id=raw["appointment_id"],
            seq=raw["seq"],
            occurred_at=utc(raw["occurred_at"]),
            after=raw.get("after") or {},
        )


@dataclass(frozen=True, slots=True)
class Names:
    """What the peers call the patient and the doctor; None where they do not know them."""

    patient_name: str | None = None
    doctor_name: str | None = None
    doctor_specialty: str | None = None


@dataclass(frozen=True, slots=True)
class ViewRow:
    """One row of ``appointment_read_view``: an appointment as schedules show it, names of
    patient and doctor beside their ids, the clinic day, start and end; never the notes
    (private to the appointment). ``version`` is the seq of the last event folded in and
    ``updated_at`` its ``occurred_at``; a name is None where its peer does not know it."""

    id: str
    version: int
    patient_id: str
    doctor_id: str
    day: str
    start: datetime
    end: datetime
    duration_minutes: int
    timezone: str
    status: AppointmentStatus
    reason: str | None
    updated_at: datetime
    patient_name: str | None = None
    doctor_name: str | None = None
    doctor_specialty: str | None = None

    @property
    def names(self) -> Names:
        return Names(self.patient_name, self.doctor_name, self.doctor_specialty)

    def named(self, names: Names) -> ViewRow:
        return dataclasses.replace(
            self,
            patient_name=names.patient_name,
            doctor_name=names.doctor_name,
            doctor_specialty=names.doctor_specialty,
        )

    def to_document(self) -> dict[str, Any]:
        """The row as MongoDB stores it. Every writer (incremental, catch-up, rebuild)
        writes exactly this shape, so a rebuilt view equals the incremental one.
        (Shallow on purpose: ``dataclasses.asdict`` deep-copies every datetime, which
        was a third of a rebuild's time.)"""
        values = {name: getattr(self, name) for name in _ROW_FIELDS}
        values["_id"] = values.pop("id")
        values["status"] = self.status.value
        return values

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> ViewRow:
        names = {f.name for f in dataclasses.fields(cls)} - {"id"}
        values = {k: v for k, v in raw.items() if k in names}
        for key in ("start", "end", "updated_at"):
            values[key] = utc(values[key])
        values["status"] = AppointmentStatus(values["status"])
        return cls(id=raw["_id"], **values)


_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(ViewRow))

# The appointment's fields the view keeps; the rest of an event's ``after`` (notes, hold
# and invoice ids, the cancellation policy, ...) is not the schedule's business.
SOURCE_FIELDS = frozenset(
    {"patient_id", "doctor_id", "start", "duration_minutes", "timezone", "status", "reason"}
)


def fold(
    current: ViewRow | None,
    appointment_id: str,
    events: Sequence[StoredEvent],
    zone: ZoneInfo,
) -> ViewRow | None:
    """``current`` (None: no row yet) brought forward by ``events`` with the domain's event
    application (``domain.model.fold``); None when none of them is newer than ``current``.
    Events at or below the row's version are skipped, so a duplicate or a replay changes
    nothing. ``zone`` is the clinic's, for ``day``.

    Names are carried over from ``current``; a new row has none (the projector adds them)."""
    start_values = {k: getattr(current, k) for k in SOURCE_FIELDS} if current else {}
    folded = model.fold(appointment_id, start_values, current.version if current else 0, events)
    if folded.last is None:
        return None
    values, version, updated_at = folded.values, folded.version, folded.last.occurred_at
    missing = SOURCE_FIELDS - {"reason"} - values.keys()
    if missing:
        raise BrokenEventLog(f"events of {appointment_id} never set {sorted(missing)}")
    start = utc(values["start"])
    kept = current.names if current else Names()  # a new row's names come from the peers
    return ViewRow(
        id=appointment_id,
        version=version,
        patient_id=values["patient_id"],
        doctor_id=values["doctor_id"],
        day=start.astimezone(zone).date().isoformat(),
        start=start,
        end=start + timedelta(minutes=values["duration_minutes"]),
        duration_minutes=values["duration_minutes"],
        timezone=values["timezone"],
        status=AppointmentStatus(values["status"]),
        reason=values.get("reason"),
        updated_at=utc(updated_at),
        patient_name=kept.patient_name,
        doctor_name=kept.doctor_name,
        doctor_specialty=kept.doctor_specialty,
    )
