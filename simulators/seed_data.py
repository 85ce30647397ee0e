"""The doctors and patients every simulator starts with. Readable ids so that logs, the
Temporal Web UI and test failures can be read without a lookup table."""

from __future__ import annotations

from datetime import time

from peers.contracts import Doctor, Patient, WorkingHours

CLINIC_TIMEZONE = "Europe/Berlin"
ON_CALL_DOCTOR_ID = "doc-on-call"
AROUND_THE_CLOCK_DOCTOR_ID = "doc-around-the-clock"


def _office_hours() -> list[WorkingHours]:
    """Mon–Fri 08:00–12:00 and 13:00–17:00: a lunch break splits each day in two intervals."""
    return [
        WorkingHours(weekday=day, start=start, end=end)
        for day in range(5)
        for start, end in ((time(8), time(12)), (time(13), time(17)))
    ]


def _every_day(start: time, end: time) -> list[WorkingHours]:
    return [WorkingHours(weekday=day, start=start, end=end) for day in range(7)]


def _doctor(doctor_id: str, name: str, specialty: str, slot_minutes: int) -> Doctor:
    return Doctor(
        id=doctor_id,
        name=name,
        specialty=specialty,
        timezone=CLINIC_TIMEZONE,
        slot_minutes=slot_minutes,
        working_hours=_office_hours(),
    )


DOCTORS: tuple[Doctor, ...] = (
    _doctor("doc-amelia-hart", "Dr. Amelia Hart", "cardiology", 30),
    _doctor("doc-jonas-weber", "Dr. Jonas Weber", "dermatology", 15),
    _doctor("doc-sofia-brandt", "Dr. Sofia Brandt", "general practice", 15),
    _doctor("doc-lukas-meier", "Dr. Lukas Meier", "paediatrics", 30),
    _doctor("doc-clara-novak", "Dr. Clara Novak", "neurology", 30),
    # Works every day, so tests that book "tomorrow" find free slots on any date,
    # weekends and DST changeovers included.
    Doctor(
        id=ON_CALL_DOCTOR_ID,
        name="Dr. Noah Fischer (on call)",
        specialty="general practice",
        timezone=CLINIC_TIMEZONE,
        slot_minutes=15,
        working_hours=_every_day(time(7), time(21)),
    ),
    # Works 24 hours a day, every day (00:00-00:00 is the whole day): a booking minutes
    # ahead is possible at any hour, so a compressed journey (reminder minutes before the
    # start, the no-show check right after it) can be watched whenever `make run` runs.
    Doctor(
        id=AROUND_THE_CLOCK_DOCTOR_ID,
        name="Dr. Mila Roth (around the clock)",
        specialty="general practice",
        timezone=CLINIC_TIMEZONE,
        slot_minutes=15,
        working_hours=_every_day(time(0), time(0)),
    ),
)

PATIENTS: tuple[Patient, ...] = (
    Patient(
        id="pat-anna-schmidt",
        name="Anna Schmidt",
        email="anna.schmidt@example.org",
        date_of_birth="1985-04-12",
    ),
    Patient(
        id="pat-ben-okafor",
        name="Ben Okafor",
        email="ben.okafor@example.org",
        date_of_birth="1992-11-03",
    ),
    Patient(
        id="pat-chiara-rossi",
        name="Chiara Rossi",
        email="chiara.rossi@example.org",
        date_of_birth="1978-07-21",
    ),
    Patient(
        id="pat-david-kim",
        name="David Kim",
        email="david.kim@example.org",
        date_of_birth="2001-01-30",
    ),
    Patient(
        id="pat-elif-yilmaz",
        name="Elif Yılmaz",
        email="elif.yilmaz@example.org",
        date_of_birth="1969-09-09",
    ),
    Patient(
        id="pat-felix-bauer",
        name="Felix Bauer",
        email="felix.bauer@example.org",
        date_of_birth="2015-06-18",
    ),
    Patient(
        id="pat-greta-lindqvist",
        name="Greta Lindqvist",
        email="greta.lindqvist@example.org",
        date_of_birth="1990-02-14",
    ),
    Patient(id="pat-hugo-moreau", name="Hugo Moreau", email="hugo.moreau@example.org"),
)
