"""What the use-case tests share: a fixed now, the people who ask, and the commands they
send. The World of fakes itself is the ``world`` fixture (conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.access import Requester
from application.commands import Book, NewAppointment
from application.permissions import Principal, Role
from config import Settings, load_settings
from tests.fakes import unique_key

# Monday 2030-01-07, 07:00 in Berlin: every test's now (World(now=NOW)).
NOW = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
# Tuesday 09:00 in Berlin: a time the on-call doctor's grid offers, well ahead of NOW.
LATER = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
# Started an hour ago: the time of an appointment a no-show may be recorded for.
EARLIER = NOW - timedelta(hours=1)

PATIENT, OTHER_PATIENT = "pat-anna-schmidt", "pat-ben-meier"
DOCTOR, OTHER_DOCTOR = "doc-on-call", "doc-hart"

SETTINGS: Settings = load_settings(
    environment="test",
    min_duration_minutes=10,
    max_duration_minutes=120,
    schedule_max_days=62,
    clinic_timezone="Europe/Berlin",
)

SUBJECT = {
    Role.ADMIN: "admin-1",
    Role.STAFF: "frontdesk-1",
    Role.DOCTOR: DOCTOR,
    Role.PATIENT: PATIENT,
}


def asking(role: Role, subject: str | None = None, request_id: str | None = None) -> Requester:
    """A caller of ``role``; a doctor is DOCTOR and a patient PATIENT unless named."""
    return Requester(Principal(subject or SUBJECT[role], role), request_id)


ADMIN = asking(Role.ADMIN)
STAFF = asking(Role.STAFF)
THE_DOCTOR = asking(Role.DOCTOR)
THE_PATIENT = asking(Role.PATIENT)


def key(prefix: str = "key") -> str:
    """A fresh Idempotency-Key."""
    return unique_key(prefix)


def booking(
    *,
    patient_id: str = PATIENT,
    doctor_id: str = DOCTOR,
    start: datetime = LATER,
    duration_minutes: int = 15,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Book:
    """The command to book; a fresh Idempotency-Key unless one is given."""
    new = NewAppointment(
        patient_id=patient_id,
        doctor_id=doctor_id,
        start=start,
        duration_minutes=duration_minutes,
        reason=reason,
    )
    return Book(appointment=new, idempotency_key=idempotency_key or key("book"))
