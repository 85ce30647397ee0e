"""The HTTP contracts of the peer services (Patient, Doctor, Billing), shared by our
clients (``peers/*.py``) and by the simulators (``simulators/``) so both sides speak one
language. Every instant is time zone–aware; the simulators answer in UTC."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.schedule import WorkingCalendar, WorkingInterval


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- Patient Service ------------------------------------------------------------------


class Patient(_Model):
    id: str
    name: str
    email: str
    date_of_birth: str | None = None


# --- Doctor Service -------------------------------------------------------------------


class WorkingHours(_Model):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start: time
    end: time = Field(description="00:00: the midnight at the end of the day (never crosses it)")


class Doctor(_Model):
    id: str
    name: str
    specialty: str
    timezone: str = Field(description="IANA time zone of the doctor's working hours")
    slot_minutes: int = Field(gt=0, description="the slot grid: slots start every N minutes")
    working_hours: list[WorkingHours]

    def calendar(self) -> WorkingCalendar:
        """The doctor's calendar as the domain computes with it."""
        hours = tuple(WorkingInterval(h.weekday, h.start, h.end) for h in self.working_hours)
        return WorkingCalendar(self.name, ZoneInfo(self.timezone), self.slot_minutes, hours)


class Slot(_Model):
    start: AwareDatetime
    end: AwareDatetime


class Availability(_Model):
    doctor_id: str
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    slot_minutes: int
    slots: list[Slot] = Field(description="free grid slots inside working hours, in order")

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class HoldStatus(StrEnum):
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


class HoldRequest(_Model):
    start: AwareDatetime
    duration_minutes: int = Field(gt=0)
    patient_id: str
    ttl_seconds: int = Field(gt=0, description="the hold expires unless confirmed by then")


class Hold(_Model):
    id: str
    doctor_id: str
    patient_id: str
    start: AwareDatetime
    end: AwareDatetime
    status: HoldStatus
    expires_at: AwareDatetime


# --- Billing Service ------------------------------------------------------------------


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    VOID = "VOID"


class InvoiceRequest(_Model):
    appointment_id: str
    patient_id: str
    amount_cents: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    description: str = ""


class Invoice(_Model):
    id: str
    appointment_id: str
    patient_id: str
    amount_cents: int
    currency: str
    description: str = ""
    status: InvoiceStatus
    idempotency_key: str
    created_at: datetime


# --- Simulator control (not part of the real services' contracts) ----------------------


class FaultMode(StrEnum):
    OK = "ok"
    SLOW = "slow"  # answer correctly after delay_seconds
    FAIL = "fail"  # answer 503 (a transient fault the caller should retry)
    REFUSE = "refuse"  # answer the service's business refusal (404 / 409 / 402)


class FaultConfig(_Model):
    mode: FaultMode = FaultMode.OK
    delay_seconds: float = Field(0.0, ge=0, le=60)
    times: int | None = Field(
        None, ge=1, description="apply to this many requests, then ok again; None = until changed"
    )


class ProblemDocument(_Model):
    """RFC 9457 problem details, as the peers answer errors."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
