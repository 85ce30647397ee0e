"""Slot search on the FHIR door (IHE ITI Scheduling, Argonaut Scheduling): a doctor's slots
in a window, ``free``, ``busy`` or ``busy-tentative``.

A Slot is no stored thing: its id says what it is (``mapping.slot_id``: doctor, start in
UTC, minutes), its Schedule is the doctor's. ``free``: the doctor's free slots (the grid
minus the read view's active appointments, ``Schedule.free_slots``); ``busy``: the active
appointments' times (the read view); ``busy-tentative``: the slots the Doctor Service holds
for a booking that has not confirmed them yet (a ``$hold``, a booking saga's, a waitlist
round's). Computed in, and shown with the offset of, the doctor's time zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from api.deps import RequesterDep, ServicesDep
from api.fhir.appointments import fhir_json
from api.fhir.capability import Param, ResourceCapability
from api.fhir.mapping import referenced_id, slot_id
from api.fhir.resources import Reference, SlotResource
from api.fhir.search import count, cursor, date_bounds, invalid, parameters, searchset
from application.access import Requester
from application.commands import FreeSlots
from application.services import Services

router = APIRouter(prefix="/Slot", tags=["fhir"])

FREE, BUSY, TENTATIVE = "free", "busy", "busy-tentative"
# No hold is longer than an appointment may be (480 minutes): how far before a window
# free slots look for holds that reach into it.
LONGEST_HOLD = timedelta(hours=8)
SLOT_STATUSES = (FREE, BUSY, TENTATIVE)

CAPABILITIES = (
    ResourceCapability(
        type="Slot",
        interactions=("search-type",),
        search=(
            Param("schedule", "reference", "Schedule/<doctor id> (or the bare id): whose slots"),
            Param(
                "schedule.actor",
                "reference",
                "Practitioner/<doctor id>: whose slots (chained through the Schedule)",
            ),
            Param(
                "start",
                "date",
                "the window, required and closed on both sides: ge/gt and le/lt (a date is a "
                "day in the doctor's time zone), at most the schedule window's days",
            ),
            Param(
                "status",
                "token",
                "free | busy | busy-tentative, repeatable or comma-separated; all when absent",
            ),
        ),
    ),
)
_SEARCH = CAPABILITIES[0].search_names


class SlotIn(BaseModel):
    """A Slot as a client (or an implementation guide's example) sends it: only what names
    the slot, its Schedule and its times."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    resourceType: Literal["Slot"]
    schedule: ScheduleRef
    start: AwareDatetime
    end: AwareDatetime


class ScheduleRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    reference: str


def slot_of(resource: dict[str, Any]) -> tuple[str, datetime, int]:
    """(doctor id, start, minutes) of a Slot resource: its Schedule is the doctor's (one
    Schedule per doctor, its id the doctor's). ValueError when it names none."""
    try:
        slot = SlotIn.model_validate(resource)
    except ValidationError as error:
        raise ValueError(f"not a Slot: {error.errors()[0]['msg']}") from None
    if slot.end <= slot.start:
        raise ValueError("the Slot ends before it starts")
    doctor_id = referenced_id(slot.schedule.reference, "Schedule")
    return doctor_id, slot.start, int((slot.end - slot.start) / timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class FoundSlot:
    doctor_id: str
    start: datetime
    end: datetime
    status: str

    def resource(self, zone: ZoneInfo) -> SlotResource:
        minutes = int((self.end - self.start) / timedelta(minutes=1))
        return SlotResource(
            id=slot_id(self.doctor_id, self.start, minutes),
            schedule=Reference(reference=f"Schedule/{self.doctor_id}"),
            status=self.status,  # one of SLOT_STATUSES
            start=zoned(self.start, zone),
            end=zoned(self.end, zone),
        )


def zoned(moment: datetime, zone: ZoneInfo) -> str:
    """A FHIR instant in ``zone``, with its offset: ``2030-01-08T09:00:00+01:00``."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def window(
    values: list[str], zone: ZoneInfo, max_days: int, name: str = "start"
) -> tuple[datetime, datetime]:
    """[lower, upper) from ``values`` (prefixes ge/gt/le/lt, a date a day in ``zone``):
    both sides required, at most ``max_days`` wide, not empty."""
    bounds = date_bounds(values, zone, name)
    if bounds.lower is None or bounds.upper is None:
        raise invalid(
            f"{name}: give a window closed on both sides (e.g. {name}=ge2030-01-08&"
            f"{name}=lt2030-01-09): an unbounded search is refused"
        )
    if bounds.empty:
        raise invalid(f"{name}: the window is empty (its start is not before its end)")
    if bounds.upper - bounds.lower > timedelta(days=max_days):
        raise invalid(f"{name}: the window may span at most {max_days} days")
    return bounds.lower, bounds.upper


def statuses(found: Mapping[str, list[str]]) -> tuple[str, ...]:
    wanted = [s.strip() for value in found.get("status", []) for s in value.split(",")]
    for status in wanted:
        if status not in SLOT_STATUSES:
            raise invalid(f"status: {status!r} is none of {', '.join(SLOT_STATUSES)}")
    return tuple(s for s in SLOT_STATUSES if s in wanted) if wanted else SLOT_STATUSES


def doctor_of(found: Mapping[str, list[str]]) -> str:
    """The one doctor ``schedule`` and ``schedule.actor`` name."""
    named: set[str] = set()
    for name, kind in (("schedule", "Schedule"), ("schedule.actor", "Practitioner")):
        for value in found.get(name, []):
            try:
                named.add(referenced_id(value, kind))
            except ValueError as error:
                raise invalid(f"{name}: {error}") from None
    if len(named) != 1:
        raise invalid(
            "name one doctor's slots: schedule=Schedule/<id> or schedule.actor=Practitioner/<id>"
            if not named
            else "schedule and schedule.actor name different doctors"
        )
    return named.pop()


async def doctor_slots(
    services: Services,
    requester: Requester,
    doctor_id: str,
    lower: datetime,
    upper: datetime,
    wanted: tuple[str, ...],
) -> list[FoundSlot]:
    """The doctor's slots of the ``wanted`` statuses starting in [lower, upper), by start."""
    found: list[FoundSlot] = []
    if FREE in wanted:
        found += [
            FoundSlot(doctor_id, slot.start, slot.end, FREE)
            for slot in await free_slots(services, requester, doctor_id, lower, upper)
        ]
    if BUSY in wanted:
        busy = await services.holds.busy(doctor_id, lower, upper, requester)
        found += [FoundSlot(doctor_id, start, end, BUSY) for start, end in busy]
    if TENTATIVE in wanted:
        held = await services.holds.tentative(doctor_id, lower, upper, requester)
        found += [FoundSlot(doctor_id, h.start, h.end, TENTATIVE) for h in held]
    return sorted(found, key=lambda s: (s.start, SLOT_STATUSES.index(s.status)))


async def free_slots(
    services: Services, requester: Requester, doctor_id: str, lower: datetime, upper: datetime
) -> list[FoundSlot]:
    """The free slots starting in [lower, upper): the clinic days that window touches,
    each asked of ``Schedule.free_slots`` (the one rule of what is free), less the slots
    the Doctor Service holds (a held slot is ``busy-tentative``, not free: the read view
    does not know holds)."""
    zone = ZoneInfo(services.schedule.clinic_timezone)
    day, last = lower.astimezone(zone).date(), (upper - timedelta(microseconds=1)).astimezone(zone)
    found: list[FoundSlot] = []
    while day <= last.date():
        query = FreeSlots(doctor_id=doctor_id, day=day)
        for slot in await services.schedule.free_slots(query, requester):
            if lower <= slot.start < upper:
                found.append(FoundSlot(doctor_id, slot.start, slot.end, FREE))
        day += timedelta(days=1)
    held = await services.holds.tentative(doctor_id, lower - LONGEST_HOLD, upper, requester)
    return [f for f in found if not any(h.start < f.end and f.start < h.end for h in held)]


def page(items: list[FoundSlot], found: Mapping[str, list[str]]) -> tuple[int, str | None]:
    """(offset, next cursor) of this page: the cursor is the next page's offset."""
    at = cursor(found)
    if at is not None and not at.isdigit():
        raise invalid("_cursor is not one this server issued")
    offset = int(at) if at else 0
    following = offset + count(found)
    return offset, str(following) if following < len(items) else None


@router.get("", summary="Search Slots")
async def search_slots(
    request: Request, requester: RequesterDep, services: ServicesDep
) -> JSONResponse:
    found = parameters(request, _SEARCH)
    doctor_id = doctor_of(found)
    wanted = statuses(found)
    calendar = await services.holds.calendar(doctor_id, requester)
    lower, upper = window(found.get("start", []), calendar.zone, services.holds.max_window_days)
    slots = await doctor_slots(services, requester, doctor_id, lower, upper, wanted)
    offset, following = page(slots, found)
    shown = slots[offset : offset + count(found)]
    resources = [s.resource(calendar.zone).dump() for s in shown]
    return fhir_json(searchset(request, "Slot", resources, len(slots), following).dump())
