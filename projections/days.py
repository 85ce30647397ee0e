"""The doctor's days: the read view's rows again, one document per doctor and UTC day,
made for the week a schedule shows (issue #18).

A week read from the rows costs the local MongoDB stand-in about 0.13 ms a row, so a busy
doctor's week (170-280 rows) cost 20-35 ms before the API did anything. Read from
``doctor_days`` it is 7 or 8 documents in one query.

A document (``_id`` ``<doctor id>/<YYYY-MM-DD>``, the UTC date of the starts) holds the
day's appointments under ``entries``, keyed by appointment id, each in the compact form of
``entry`` (its row's version, and its values packed into one string). Each entry is
written under a version guard of its own (``projections.view_store``): only over an older
version of itself.

**Leaving a day.** An appointment moved to another day leaves a *tombstone* in each day it
was on before: ``{"v": <version>}``, no start. A tombstone, not an ``$unset``: a slow
projector writing the old version into the old day later is refused by it, as a newer
entry refuses an older one, so the appointment cannot come back there. Which days it was
on is told by its events (``visited``): the day of its stored row and of every version
after it (the row's own days before that were left by whoever wrote the row).

Written only by the projector, from ``ViewRow``s (``projections.projection``); read by
``projections.queries``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from application.results import ScheduleEntry
from domain.clock import utc
from domain.status import AppointmentStatus
from projections.fold import StoredEvent, ViewRow

Raw = dict[str, Any]
ENTRIES = "entries"
# A doctor's day ids all start with "<doctor id>/": the next character up bounds them.
_SEPARATOR, _AFTER_SEPARATOR = "/", "0"


def day_id(doctor_id: str, start: datetime) -> str:
    """The document holding an appointment of ``doctor_id`` that starts at ``start``."""
    return f"{doctor_id}{_SEPARATOR}{start.astimezone(UTC).date().isoformat()}"


def row_day(row: ViewRow) -> str:
    return day_id(row.doctor_id, row.start)


def doctor_range(doctor_id: str) -> dict[str, str]:
    """An ``_id`` range holding exactly the doctor's day documents."""
    return {"$gte": doctor_id + _SEPARATOR, "$lt": doctor_id + _AFTER_SEPARATOR}


def window_days(doctor_id: str, lower: datetime, upper: datetime) -> list[str]:
    """The documents that can hold a start in [lower, upper): one per UTC date."""
    first = lower.astimezone(UTC).date()
    last = (upper.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [
        f"{doctor_id}{_SEPARATOR}{(first + timedelta(days=n)).isoformat()}"
        for n in range((last - first).days + 1)
    ]


def key(appointment_id: str) -> str:
    """The entry's field name: the id itself (a UUID), which must not make a dotted path."""
    if "." in appointment_id or appointment_id.startswith("$"):
        raise ValueError(f"appointment id {appointment_id!r} cannot name a field")
    return appointment_id


def path(appointment_id: str) -> str:
    return f"{ENTRIES}.{key(appointment_id)}"


# The order of a live entry's packed values.
_PACKED = ("p", "pn", "dn", "ds", "d", "s", "e", "m", "tz", "st", "r", "u")
_P, _PN, _DN, _DS, _D, _S, _E, _M, _TZ, _ST, _R, _U = range(len(_PACKED))


def _instant(value: datetime) -> str:
    """As MongoDB would keep it: UTC, to the millisecond (truncated, as BSON does)."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat(
        timespec="milliseconds"
    )


def entry(row: ViewRow) -> Raw:
    """A row as its day holds it: its version, for the guard, and everything else packed
    into one JSON array (``x``). One string, not a dozen fields: the local stand-in's cost
    is per BSON element, and a week read as packed entries took 2 ms instead of 7 ms
    (measured at 100,000 rows). No id (it is the key), no doctor id (the document's)."""
    values = [
        row.patient_id,
        row.patient_name,
        row.doctor_name,
        row.doctor_specialty,
        row.day,
        _instant(row.start),
        _instant(row.end),
        row.duration_minutes,
        row.timezone,
        row.status.value,
        row.reason,
        _instant(row.updated_at),
    ]
    return {"v": row.version, "x": json.dumps(values, separators=(",", ":"))}


def tombstone(version: int) -> Raw:
    """What an appointment leaves in a day it moved away from at ``version``."""
    return {"v": version}


def is_live(value: Mapping[str, Any]) -> bool:
    return "x" in value


@dataclass(frozen=True, slots=True)
class Live:
    """A live entry unpacked: what a schedule filters and orders on, and the rest."""

    start: datetime
    end: datetime
    status: str
    values: list[Any]


def unpack(value: Mapping[str, Any]) -> Live:
    values: list[Any] = json.loads(value["x"])
    start, end = datetime.fromisoformat(values[_S]), datetime.fromisoformat(values[_E])
    return Live(start, end, values[_ST], values)


def schedule_entry(doctor_id: str, appointment_id: str, live: Live) -> ScheduleEntry:
    """The entry as the row query answers it: a ``ScheduleEntry`` of the same values.
    (Validated: pydantic's validation of ready values is faster than its Python-level
    ``model_construct``, 8 against 10-16 µs an entry, measured.)"""
    values = live.values
    return ScheduleEntry(
        id=appointment_id,
        patient_id=values[_P],
        patient_name=values[_PN],
        doctor_id=doctor_id,
        doctor_name=values[_DN],
        doctor_specialty=values[_DS],
        day=values[_D],
        start=live.start,
        end=live.end,
        duration_minutes=values[_M],
        timezone=values[_TZ],
        status=AppointmentStatus(live.status),
        reason=values[_R],
        updated_at=datetime.fromisoformat(values[_U]),
    )


def visited(current: ViewRow | None, events: Sequence[StoredEvent]) -> set[str]:
    """The days the appointment was on from ``current`` (the stored row) through every
    version ``events`` add to it. ``events`` are those ``fold`` folded (it has checked
    them: gap-free, in order)."""
    version = current.version if current else 0
    doctor_id = current.doctor_id if current else None
    start = current.start if current else None
    days = {row_day(current)} if current else set()
    for event in sorted(events, key=lambda e: e.seq):
        if event.seq <= version:
            continue
        doctor_id = event.after.get("doctor_id", doctor_id)
        if "start" in event.after:
            start = utc(event.after["start"])
        if doctor_id is not None and start is not None:
            days.add(day_id(doctor_id, start))
    return days


def day_documents(rows: Iterable[ViewRow]) -> dict[str, dict[str, Raw]]:
    """The live entries of ``rows``, by day document and appointment id."""
    days: dict[str, dict[str, Raw]] = {}
    for row in rows:
        days.setdefault(row_day(row), {})[key(row.id)] = entry(row)
    return days


def day_fields(day: str) -> Raw:
    """The fields a day document is created with besides its entries."""
    doctor_id, _, utc_date = day.rpartition(_SEPARATOR)
    return {"doctor_id": doctor_id, "date": date.fromisoformat(utc_date).isoformat()}
