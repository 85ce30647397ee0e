"""Our appointments as FHIR R4 resources: the status table (the one the README shows, and
the one REST's ``fhir_status`` reads), participants, slot ids and the Appointment itself.

One table, ``STATUS_TABLE``: each of our statuses, the FHIR ``Appointment.status`` and the
patient participant's ``status``. ``ours`` reads the table backwards, so the mapping
round-trips (a confirmed appointment is told from a scheduled one by its patient's
``accepted``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.fhir.resources import (
    AppointmentResource,
    CodeableConcept,
    Coding,
    Meta,
    Participant,
    Reference,
)
from application.reads import Cancellation
from domain.model import Appointment
from domain.status import AppointmentStatus

S = AppointmentStatus


@dataclass(frozen=True, slots=True)
class FhirStatus:
    """How one of our statuses reads in FHIR: the Appointment's status and the
    participants' (patient, practitioner)."""

    appointment: str
    patient: str
    practitioner: str


# Our status -> FHIR. The README's status table is this one.
STATUS_TABLE: dict[AppointmentStatus, FhirStatus] = {
    S.PENDING: FhirStatus("pending", "needs-action", "needs-action"),
    S.SCHEDULED: FhirStatus("booked", "needs-action", "accepted"),
    S.CONFIRMED: FhirStatus("booked", "accepted", "accepted"),
    S.CHECKED_IN: FhirStatus("checked-in", "accepted", "accepted"),
    S.COMPLETED: FhirStatus("fulfilled", "accepted", "accepted"),
    S.CANCELLED: FhirStatus("cancelled", "declined", "declined"),
    S.NO_SHOW: FhirStatus("noshow", "declined", "accepted"),
    S.FAILED: FhirStatus("entered-in-error", "declined", "declined"),
}
# A waitlist entry (application/waitlist.py) is an Appointment ``waitlist``: not one of
# our appointments' statuses, so ``ours`` answers None for it.
WAITLIST = "waitlist"

FHIR_STATUSES: frozenset[str] = frozenset(
    {row.appointment for row in STATUS_TABLE.values()} | {WAITLIST}
)


def fhir_status_of(status: AppointmentStatus) -> str:
    """The FHIR ``Appointment.status`` of ``status`` (REST's ``fhir_status`` too)."""
    return STATUS_TABLE[status].appointment


def ours(fhir_status: str, patient_status: str | None = None) -> AppointmentStatus | None:
    """Our status of a FHIR status (and the patient participant's status, which tells
    CONFIRMED from SCHEDULED); None for ``waitlist``. Raises ValueError for a status that
    is not one of ours."""
    found = [s for s, row in STATUS_TABLE.items() if row.appointment == fhir_status]
    if not found:
        if fhir_status == WAITLIST:
            return None
        raise ValueError(f"unknown FHIR appointment status {fhir_status!r}")
    if len(found) > 1 and patient_status is not None:
        exact = [s for s in found if STATUS_TABLE[s].patient == patient_status]
        if exact:
            return exact[0]
    return found[0]


def statuses_of(fhir_status: str) -> frozenset[AppointmentStatus]:
    """Every status of ours that reads as ``fhir_status`` (a search by status): ``booked``
    is SCHEDULED and CONFIRMED. Raises ValueError for an unknown status."""
    if fhir_status not in FHIR_STATUSES:
        raise ValueError(f"unknown FHIR appointment status {fhir_status!r}")
    return frozenset(s for s, row in STATUS_TABLE.items() if row.appointment == fhir_status)


# --- references ---------------------------------------------------------------------------


def patient_reference(patient_id: str) -> str:
    return f"Patient/{patient_id}"


def practitioner_reference(doctor_id: str) -> str:
    return f"Practitioner/{doctor_id}"


def referenced_id(value: str, resource_type: str) -> str:
    """The id of ``<resource_type>/<id>`` or of a bare ``<id>``; ValueError for a reference
    to another resource type."""
    if "/" not in value:
        return value
    kind, _, identifier = value.rpartition("/")
    if kind.rsplit("/", 1)[-1] != resource_type or not identifier:
        raise ValueError(f"expected a {resource_type} reference, got {value!r}")
    return identifier


# --- slot ids -----------------------------------------------------------------------------

_SLOT_TIME = "%Y%m%dT%H%MZ"


def slot_id(doctor_id: str, start: datetime, minutes: int) -> str:
    """A Slot's id: ``<doctor id>.<start, UTC, YYYYMMDDTHHMMZ>.<minutes>``, e.g.
    ``doc-on-call.20300108T0800Z.15``. A slot is no stored thing: its id says what it is."""
    if start.utcoffset() is None:
        raise ValueError("a slot starts at an instant with an offset")
    return f"{doctor_id}.{start.astimezone(UTC).strftime(_SLOT_TIME)}.{minutes}"


def parse_slot_id(value: str) -> tuple[str, datetime, int]:
    """(doctor id, start in UTC, minutes) of a ``slot_id``; ValueError when it is none."""
    # doctor ids may hold dots themselves: the last two parts are the time and the length
    parts = value.rsplit(".", 2)
    if len(parts) != 3:
        raise ValueError(f"not a slot id: {value!r}")
    doctor_id, when, minutes = parts
    try:
        start = datetime.strptime(when, _SLOT_TIME).replace(tzinfo=UTC)
        length = int(minutes)
    except ValueError:
        raise ValueError(f"not a slot id: {value!r}") from None
    if not doctor_id or length <= 0 or str(length) != minutes:
        raise ValueError(f"not a slot id: {value!r}")
    return doctor_id, start, length


# --- the Appointment ----------------------------------------------------------------------


def instant(value: datetime) -> str:
    """A FHIR instant: seconds, with an offset (UTC written ``Z``)."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


_CANCELLATION = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
# Who cancelled (the event's actor's role) -> the cancellation-reason code that says so.
CANCELLED_BY = {"patient": ("pat", "Patient"), "doctor": ("prov", "Provider")}


def cancelation_reason(reason: str | None, by_role: str | None = None) -> CodeableConcept:
    """``cancelationReason``: the cancellation's reason as text when it was given, and
    coded ``pat``/``prov`` when the patient or the doctor cancelled."""
    coded = CANCELLED_BY.get(by_role or "")
    coding = [Coding(system=_CANCELLATION, code=coded[0], display=coded[1])] if coded else None
    return CodeableConcept(coding=coding, text=reason or "cancelled")


def appointment_resource(
    appointment: Appointment,
    *,
    show_reason: bool = True,
    cancellation: Cancellation | None = None,
) -> AppointmentResource:
    """``appointment`` as a FHIR Appointment. ``show_reason``: whether the caller may read
    the free text (REST shows it to whoever may read the appointment); ``cancellation``:
    why and by whom it was cancelled (``Reads.cancellation``), if known."""
    row = STATUS_TABLE[appointment.status]
    end = appointment.start + timedelta(minutes=appointment.duration_minutes)
    return AppointmentResource(
        id=appointment.id,
        meta=Meta(versionId=str(appointment.version), lastUpdated=instant(appointment.updated_at)),
        status=row.appointment,
        cancelationReason=(
            cancelation_reason(
                cancellation.reason if cancellation else None,
                cancellation.by_role if cancellation else None,
            )
            if appointment.status is S.CANCELLED
            else None
        ),
        description=appointment.reason if show_reason else None,
        comment=appointment.notes if show_reason else None,
        start=instant(appointment.start),
        end=instant(end),
        minutesDuration=appointment.duration_minutes,
        slot=[
            Reference(
                reference="Slot/"
                + slot_id(appointment.doctor_id, appointment.start, appointment.duration_minutes)
            )
        ],
        created=instant(appointment.created_at),
        participant=[
            Participant(
                type=[_role("PART", "Participation")],
                actor=Reference(reference=patient_reference(appointment.patient_id)),
                required="required",
                status=row.patient,
            ),
            Participant(
                type=[_role("PPRF", "primary performer")],
                actor=Reference(reference=practitioner_reference(appointment.doctor_id)),
                required="required",
                status=row.practitioner,
            ),
        ],
    )


_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def _role(code: str, display: str) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=_PARTICIPATION, code=code, display=display)])
