"""The commands and queries of the use cases: one model per request, validated once, the
same for every door. REST takes the bodies and query strings straight into them; GraphQL
builds them from its arguments; the FHIR door will too. So an id, a key, a time or a size
is refused by the same rule, with the same words, whichever door it came through."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from application.identifiers import AppointmentId, Day, EntityId, IdempotencyKey, Instant
from domain.rules import CELL_MINUTES
from domain.status import AppointmentStatus
from workflows.contracts.booking import AdoptedHold

MAX_PAGE = 100

# The rules every requested time must keep (domain/rules.py), stated in the JSON Schema
# too, so that a client knows them before it asks: a start on the grid of 5-minute cells
# (seconds zero; a minute, and an offset's minutes, that are multiples of 5) and a length
# of whole cells. The configured shortest and longest lengths are the app's settings: the
# API puts them in its OpenAPI document (``api.schemas.state_configured_limits``).
assert CELL_MINUTES == 5, "ON_THE_GRID spells the 5-minute grid"
ON_THE_GRID = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-5][05]:00(\.0+)?([Zz]|[+-][0-9]{2}:[0-5][05])$"
)
_GRID: JsonDict = {"pattern": ON_THE_GRID}
_CELLS: JsonDict = {"multipleOf": CELL_MINUTES}


def _reason() -> Any:
    return Field(None, max_length=500, description="why, for the audit trail")


class Command(BaseModel):
    """Strict, as the JSON Schema says: an integer is a JSON integer, a date-time an RFC
    3339 string with an offset, unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def fingerprint(*parts: BaseModel | dict[str, Any] | str) -> str:
    """A request's identity: the same Idempotency-Key must come with the same request."""
    canonical = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


# --- booking ---------------------------------------------------------------------------

_NOT_FINGERPRINTED = {"over_patient_cap"}


class NewAppointment(Command):
    """The appointment to book: POST /api/v1/appointments' body, GraphQL's input."""

    patient_id: EntityId = Field(description="the Patient Service's id")
    doctor_id: EntityId = Field(description="the Doctor Service's id")
    start: Instant = Field(
        description="ISO 8601 with a UTC offset; on the doctor's grid", json_schema_extra=_GRID
    )
    duration_minutes: int = Field(ge=5, le=480, description="the length", json_schema_extra=_CELLS)
    reason: str | None = Field(None, max_length=500)
    over_patient_cap: bool = Field(
        False,
        description="staff and admin only: book even if the patient already holds the most "
        "active upcoming appointments a patient may (the event records it)",
    )


class Book(Command):
    appointment: NewAppointment
    idempotency_key: IdempotencyKey
    # A slot hold the caller took beforehand (FHIR ``$hold``), which the booking confirms
    # instead of taking its own (``SlotHolds.adopt`` checks it is the caller's, still held).
    held: AdoptedHold | None = None

    def fingerprint(self) -> str:
        # The appointment, not the permission to book it over the cap: a retry with or
        # without ``over_patient_cap`` is the same booking, and a booking has the
        # fingerprint it had before the field existed. On a hold, the hold too.
        body = self.appointment.model_dump(mode="json", exclude=_NOT_FINGERPRINTED)
        if self.held is None:
            return fingerprint(body)
        return fingerprint(body, {"hold_id": self.held.hold_id})


# --- changes by saga --------------------------------------------------------------------


class CancellationDetails(Command):
    reason: str | None = _reason()


class Cancel(Command):
    appointment_id: AppointmentId
    cancellation: CancellationDetails = CancellationDetails()
    idempotency_key: IdempotencyKey

    def fingerprint(self) -> str:
        return fingerprint(self.cancellation, self.appointment_id, "cancel")


class NewTime(Command):
    """A move: the new start, and the new length if it changes."""

    start: Instant = Field(
        description="the new start, ISO 8601 with a UTC offset", json_schema_extra=_GRID
    )
    duration_minutes: int | None = Field(
        None,
        ge=5,
        le=480,
        description="the new length; the current one if absent",
        json_schema_extra=_CELLS,
    )
    reason: str | None = _reason()


class Reschedule(Command):
    appointment_id: AppointmentId
    new_time: NewTime
    idempotency_key: IdempotencyKey

    def fingerprint(self) -> str:
        return fingerprint(self.new_time, self.appointment_id, "reschedule")


class NoShowReversalDetails(Command):
    """A wrongly recorded no-show: the patient did come."""

    to: Literal["CHECKED_IN", "COMPLETED"] = Field(
        description="what the appointment becomes: CHECKED_IN (the patient is here, or the "
        "visit goes on) or COMPLETED (the visit took place)"
    )
    reason: str | None = _reason()


class ReverseNoShow(Command):
    appointment_id: AppointmentId
    reversal: NoShowReversalDetails
    idempotency_key: IdempotencyKey

    def fingerprint(self) -> str:
        return fingerprint(self.reversal, self.appointment_id, "reverse-no-show")


# --- changes in one transaction ----------------------------------------------------------

StatusAction = Literal["confirm", "check-in", "complete", "no-show"]


class Change(Command):
    """What every change in one transaction carries: which appointment, the caller's
    key (None: a retry is not recognised) and the version they saw (None: the stored)."""

    appointment_id: AppointmentId
    idempotency_key: IdempotencyKey | None = None
    if_match: int | None = Field(None, ge=0, description="the ETag the caller saw")


class ChangeStatus(Change):
    action: StatusAction
    reason: str | None = _reason()


class EditDetails(Command):
    """The free-text fields only. A field left out stays; ``null`` clears it."""

    reason: str | None = Field(None, max_length=500, description="why the patient comes")
    notes: str | None = Field(None, max_length=2000, description="notes for the visit")

    @model_validator(mode="after")
    def _names_a_field(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("name at least one of reason, notes")
        return self

    def changes(self) -> dict[str, str | None]:
        return self.model_dump(include=self.model_fields_set)


class Edit(Change):
    edit: EditDetails


class EnterInError(Change):
    pass


# --- reading the write model -------------------------------------------------------------


NOT_A_CURSOR = "not a cursor this API issued; pass next_cursor as it is"
_NOT_OURS = (binascii.Error, UnicodeDecodeError, TypeError, ValueError, KeyError, OverflowError)


def _opaque(position: object) -> str:
    """A page's position as clients see it: base64url of its JSON, opaque to them."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _opened(cursor: str) -> Any:
    """The JSON inside a cursor; raises one of ``_NOT_OURS`` for what is none."""
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def encode_cursor(start: datetime, appointment_id: str) -> str:
    """The (start, id) of the last appointment returned."""
    return _opaque([start.astimezone(UTC).isoformat(), appointment_id])


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        start, appointment_id = _opened(cursor)
        instant = datetime.fromisoformat(start)
        if instant.utcoffset() is None or not isinstance(appointment_id, str):
            raise ValueError
        return instant.astimezone(UTC), appointment_id
    except _NOT_OURS:
        raise ValueError(NOT_A_CURSOR) from None


def encode_history_cursor(seq: int) -> str:
    """The seq of the last event returned."""
    return _opaque({"seq": seq})


def decode_history_cursor(cursor: str) -> int:
    try:
        seq = _opened(cursor)["seq"]
        if type(seq) is not int or seq < 1:
            raise ValueError
        return seq
    except _NOT_OURS:
        raise ValueError(NOT_A_CURSOR) from None


class _Paging(BaseModel):
    """A page's size and where it starts (REST's query strings: not strict). Each kind of
    page reads its own cursors (``_position``)."""

    limit: int = Field(20, ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")

    @staticmethod
    def _position(cursor: str) -> object:
        raise NotImplementedError

    @field_validator("cursor")
    @classmethod
    def _a_cursor(cls, value: str | None) -> str | None:
        if value is not None:
            cls._position(value)
        return value


class ListAppointments(_Paging):
    """A page of appointments. Unknown parameters are refused, so a misspelt filter never
    silently widens the result. (Not strict: REST's query strings are all strings.)"""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    doctor_id: EntityId | None = Field(None, description="only this doctor's")
    patient_id: EntityId | None = Field(None, description="only this patient's")
    status: list[AppointmentStatus] = Field(
        default_factory=list,
        description="only these statuses; repeat the parameter for several: "
        "`?status=SCHEDULED&status=CONFIRMED`",
    )
    start_from: Instant | None = Field(
        None, alias="from", description="start at or after this instant (with an offset)"
    )
    start_to: Instant | None = Field(
        None, alias="to", description="start before this instant (with an offset)"
    )
    _position = staticmethod(decode_cursor)

    @model_validator(mode="after")
    def _a_range(self) -> Self:
        if self.start_from and self.start_to and self.start_from >= self.start_to:
            raise ValueError("from must be before to")
        return self

    def position(self) -> tuple[datetime, str] | None:
        return decode_cursor(self.cursor) if self.cursor else None


class HistoryPage(_Paging):
    """Which page of an appointment's events, oldest first: REST's query string, as the
    list's (not strict: query strings are all strings; unknown parameters refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    _position = staticmethod(decode_history_cursor)

    def after_seq(self) -> int:
        """The events after this seq make the page (0: from the first)."""
        return decode_history_cursor(self.cursor) if self.cursor else 0


# --- reading the schedule (the read view) -----------------------------------------------


class Window(BaseModel):
    """[from, to): both instants with an offset, in UTC once validated."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    start_from: Instant = Field(
        alias="from", description="starting at or after this instant (with a UTC offset)"
    )
    start_to: Instant = Field(alias="to", description="... and before this one (with a UTC offset)")


class DoctorSchedule(Window):
    doctor_id: EntityId
    statuses: list[AppointmentStatus] | None = None  # None: every status but FAILED


class PatientAppointments(Window):
    patient_id: EntityId
    statuses: list[AppointmentStatus] | None = None


class FreeSlots(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    doctor_id: EntityId
    day: Day = Field(description="a date in the clinic's time zone, YYYY-MM-DD")


class ReadAppointment(Command):
    """One appointment by its id (what a door's path or argument names)."""

    appointment_id: AppointmentId


# --- the waitlist (application/waitlist.py) ----------------------------------------------

# An entry's and an offer's id: UUIDs, as appointments' ids are.
WaitlistId = AppointmentId


class NewWaitlistEntry(Command):
    """Who waits for which doctor, for a start in [earliest_start, latest_start] and a
    length: POST /api/v1/waitlist's body, GraphQL's input."""

    patient_id: EntityId = Field(description="the Patient Service's id")
    doctor_id: EntityId = Field(description="the Doctor Service's id")
    earliest_start: Instant = Field(
        description="the earliest acceptable start, ISO 8601 with a UTC offset"
    )
    latest_start: Instant = Field(
        description="the latest acceptable start (inclusive), ISO 8601 with a UTC offset; "
        "not before earliest_start, and in the future"
    )
    duration_minutes: int = Field(
        ge=5, le=480, description="the length wanted", json_schema_extra=_CELLS
    )
    priority: Literal["routine", "urgent"] = Field(
        "routine", description="`urgent` goes first; staff and admin only"
    )
    note: str | None = Field(None, max_length=500, description="for the front desk")


class JoinWaitlist(Command):
    entry: NewWaitlistEntry
    idempotency_key: IdempotencyKey

    def fingerprint(self) -> str:
        return fingerprint(self.entry, "join-waitlist")


class ListWaitlist(_Paging):
    """A page of waitlist entries, by (joined_at, id). Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: EntityId | None = Field(None, description="only this patient's")
    doctor_id: EntityId | None = Field(None, description="only for this doctor")
    status: list[Literal["WAITING", "OFFERED", "FULFILLED", "LEFT"]] = Field(
        default_factory=list,
        description="only these statuses; repeat the parameter for several: "
        "`?status=WAITING&status=OFFERED`",
    )
    _position = staticmethod(decode_cursor)

    def position(self) -> tuple[datetime, str] | None:
        return decode_cursor(self.cursor) if self.cursor else None
