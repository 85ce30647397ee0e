"""The IHE ITI Scheduling operations on the FHIR door: ``Appointment/$find``, ``$hold`` and
``$book``, over the same use cases as REST.

- ``$find`` (GET with query parameters, or POST with a ``Parameters``): ``proposed``
  Appointments built from free slots (``Schedule.free_slots``) of one practitioner, or of
  every doctor of a specialty, computed in and shown with the offset of the doctor's zone.
  Each names its Slot (``slot``) and has the id ``proposed-<slot id>``.
- ``$hold`` (POST: a ``Parameters`` with ``appointment-reference`` to a proposed
  Appointment, or with an ``appointment``; or the Appointment itself): holds the slot at
  the Doctor Service for ``settings.slot_hold_minutes`` and answers the Appointment
  ``pending`` with the id ``hold-<hold id>``. A slot no longer free: 409, an
  OperationOutcome ``fatal`` / ``not-found``. Idempotent by ``Idempotency-Key`` (the
  Doctor Service's hold key, scoped to the caller).
- ``$book`` (POST, the same inputs; ``Idempotency-Key`` required, as REST's booking key):
  on a ``hold-...`` reference (or an Appointment with that id) the booking saga confirms
  that hold instead of taking its own, and the answer is the Appointment ``booked`` (201,
  Location). Without a hold it books like REST. An Appointment with status ``cancelled``
  and an existing id cancels it through the cancellation saga (200, ``cancelled``): the
  slot is free again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import RequesterDep, ServicesDep, WaitDep
from api.fhir.appointments import fhir_json
from api.fhir.capability import Operation, ResourceCapability
from api.fhir.mapping import (
    appointment_resource,
    parse_slot_id,
    patient_reference,
    practitioner_reference,
    referenced_id,
    slot_id,
)
from api.fhir.outcome import FHIR_BASE
from api.fhir.resources import (
    AppointmentResource,
    Bundle,
    BundleEntry,
    BundleLink,
    BundleSearch,
    Issue,
    OperationOutcome,
    Participant,
    Reference,
)
from api.fhir.search import count, date_bounds, invalid, single
from api.fhir.slots import free_slots, zoned
from application.access import Requester
from application.commands import Book, Cancel, CancellationDetails, NewAppointment
from application.identifiers import idempotency_key
from application.permissions import Role
from application.ports import SlotHold
from application.results import SagaRunning
from application.services import Services
from domain.model import Appointment

router = APIRouter(prefix="/Appointment", tags=["fhir"])

_IHE = "https://profiles.ihe.net/ITI/SCHED/OperationDefinition"
CAPABILITIES = (
    ResourceCapability(
        type="Appointment",
        operations=(
            Operation("find", f"{_IHE}/appointment-find"),
            Operation("hold", f"{_IHE}/appointment-hold"),
            Operation("book", f"{_IHE}/appointment-book"),
        ),
    ),
)

PROPOSED, HOLD = "proposed-", "hold-"
# $find without a practitioner asks every doctor of the specialty: at most this window.
FIND_ACROSS_DOCTORS_MAX_DAYS = 7
FIND_PARAMETERS = frozenset(
    {"start", "end", "practitioner", "specialty", "patient-reference", "_count"}
)


# --- what the operations take -------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ReferenceIn(_In):
    reference: str = Field(min_length=1)


class ActorIn(_In):
    """A participant's actor: IHE's examples name some by ``display`` alone (a place)."""

    reference: str | None = Field(None, min_length=1)


class ParticipantIn(_In):
    actor: ActorIn | None = None
    status: str | None = None


class CodeableIn(_In):
    text: str | None = None


class AppointmentIn(_In):
    """An Appointment as a client sends it: only the elements the operations read."""

    resourceType: Literal["Appointment"]
    id: str | None = None
    status: str
    start: datetime | None = None
    end: datetime | None = None
    minutesDuration: int | None = Field(None, gt=0)
    slot: list[ReferenceIn] | None = None
    participant: list[ParticipantIn] = Field(default_factory=list)
    description: str | None = Field(None, max_length=500)
    cancelationReason: CodeableIn | None = None

    def actor(self, kind: str) -> str | None:
        for p in self.participant:
            reference = p.actor.reference if p.actor is not None else None
            if reference is not None and reference.startswith(f"{kind}/"):
                return referenced_id(reference, kind)
        return None


class ParameterIn(_In):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    valueString: str | None = None
    valueCode: str | None = None
    valueDate: str | None = None
    valueDateTime: str | None = None
    valueInstant: str | None = None
    valuePositiveInt: int | None = None
    valueInteger: int | None = None
    valueReference: ReferenceIn | None = None
    resource: dict[str, Any] | None = None

    def text(self) -> str | None:
        for value in (
            self.valueString,
            self.valueCode,
            self.valueDateTime,
            self.valueInstant,
            self.valueDate,
        ):
            if value is not None:
                return value
        for number in (self.valuePositiveInt, self.valueInteger):
            if number is not None:
                return str(number)
        return self.valueReference.reference if self.valueReference else None


class ParametersIn(_In):
    resourceType: Literal["Parameters"]
    parameter: list[ParameterIn] = Field(default_factory=list)

    def values(self) -> dict[str, list[ParameterIn]]:
        found: dict[str, list[ParameterIn]] = {}
        for p in self.parameter:
            found.setdefault(p.name, []).append(p)
        return found


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
    )


async def body_of(request: Request) -> ParametersIn | AppointmentIn:
    """The request's ``Parameters`` or ``Appointment``; 400 ``invalid`` for anything else."""
    try:
        document = await request.json()
    except ValueError:
        raise invalid("the body is not JSON: send a Parameters or an Appointment") from None
    kind = document.get("resourceType") if isinstance(document, dict) else None
    try:
        if kind == "Parameters":
            return ParametersIn.model_validate(document)
        if kind == "Appointment":
            return AppointmentIn.model_validate(document)
    except ValidationError as error:
        raise invalid(f"malformed {kind}: {_problems(error)}") from None
    raise invalid("send a Parameters or an Appointment resource")


def appointment_in(resource: dict[str, Any]) -> AppointmentIn:
    try:
        return AppointmentIn.model_validate(resource)
    except ValidationError as error:
        raise invalid(f"malformed Appointment: {_problems(error)}") from None


# --- what a request names ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Named:
    """What a $hold or $book request names: a hold, a slot (with its patient), or one of
    our appointments (with the status asked for), and the Appointment sent, if one was."""

    hold_id: str | None = None
    slot: tuple[str, datetime, int] | None = None
    appointment_id: str | None = None
    patient_id: str | None = None
    status: str | None = None
    sent: AppointmentIn | None = None


def _slot_of(value: str) -> tuple[str, datetime, int]:
    try:
        return parse_slot_id(value)
    except ValueError as error:
        raise invalid(str(error)) from None


def named_by_reference(reference: str) -> Named:
    """``Appointment/hold-<id>``, ``Appointment/proposed-<slot id>`` or ``Appointment/<id>``."""
    try:
        identifier = referenced_id(reference, "Appointment")
    except ValueError as error:
        raise invalid(f"appointment-reference: {error}") from None
    if identifier.startswith(HOLD):
        return Named(hold_id=identifier.removeprefix(HOLD))
    if identifier.startswith(PROPOSED):
        return Named(slot=_slot_of(identifier.removeprefix(PROPOSED)))
    return Named(appointment_id=identifier)


def named_by_appointment(sent: AppointmentIn) -> Named:
    """A sent Appointment: its hold (id ``hold-...``), its Slot, or its start and length
    with a practitioner; an existing appointment when it asks to be cancelled."""
    patient = sent.actor("Patient")
    identifier = sent.id or ""
    if sent.status == "cancelled":
        if not identifier or identifier.startswith((HOLD, PROPOSED)):
            raise invalid("a cancelled Appointment must carry the id of a booked appointment")
        return Named(appointment_id=identifier, status="cancelled", sent=sent)
    if identifier.startswith(HOLD):
        return Named(hold_id=identifier.removeprefix(HOLD), patient_id=patient, sent=sent)
    for ref in sent.slot or []:
        try:
            slot = referenced_id(ref.reference, "Slot")
        except ValueError as error:
            raise invalid(f"Appointment.slot: {error}") from None
        return Named(slot=_slot_of(slot), patient_id=patient, sent=sent)
    if identifier.startswith(PROPOSED):  # ours names its slot; another server's need not
        try:
            ours = parse_slot_id(identifier.removeprefix(PROPOSED))
        except ValueError:
            pass
        else:
            return Named(slot=ours, patient_id=patient, sent=sent)
    doctor = sent.actor("Practitioner")
    if sent.start is None or doctor is None:
        raise invalid("the Appointment names no slot: give slot, or start with a practitioner")
    if sent.start.utcoffset() is None:
        raise invalid("Appointment.start needs a UTC offset")
    if sent.minutesDuration is not None:
        minutes = sent.minutesDuration
    elif sent.end is not None and sent.end > sent.start:
        minutes = int((sent.end - sent.start) / timedelta(minutes=1))
    else:
        raise invalid("the Appointment needs end or minutesDuration")
    return Named(slot=(doctor, sent.start, minutes), patient_id=patient, sent=sent)


def named(body: ParametersIn | AppointmentIn) -> Named:
    if isinstance(body, AppointmentIn):
        return named_by_appointment(body)
    values = body.values()
    unknown = set(values) - {"appointment-reference", "appointment", "patient-reference"}
    if unknown:
        raise invalid(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    refs, resources = values.get("appointment-reference", []), values.get("appointment", [])
    if len(refs) + len(resources) != 1:
        raise invalid("give exactly one of appointment-reference and appointment")
    if refs:
        reference = refs[0].valueReference
        if reference is None:
            raise invalid("appointment-reference must be a valueReference")
        found = named_by_reference(reference.reference)
    else:
        resource = resources[0].resource
        if resource is None:
            raise invalid("appointment must carry the Appointment as its resource")
        found = named_by_appointment(appointment_in(resource))
    patients = [p.text() for p in values.get("patient-reference", [])]
    if patients:
        if len(patients) > 1 or patients[0] is None:
            raise invalid("patient-reference may be given once, as a Patient reference")
        try:
            patient = referenced_id(patients[0], "Patient")
        except ValueError as error:
            raise invalid(f"patient-reference: {error}") from None
        if found.patient_id not in (None, patient):
            raise invalid("patient-reference names another patient than the Appointment")
        return Named(
            found.hold_id, found.slot, found.appointment_id, patient, found.status, found.sent
        )
    return found


def patient_of(found: Named, requester: Requester) -> str:
    """Whose the hold or booking is: as named, or the calling patient themself."""
    if found.patient_id is not None:
        return found.patient_id
    who = requester.principal
    if who.role is Role.PATIENT:
        return who.subject
    raise invalid("name the patient: patient-reference, or a Patient participant")


# --- what the operations answer ----------------------------------------------------------


def proposed(
    doctor_id: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    patient_id: str | None,
    *,
    status: Literal["proposed", "pending"] = "proposed",
    identifier: str | None = None,
) -> AppointmentResource:
    """A proposed (``$find``) or held (``$hold``, ``pending``) Appointment of a slot."""
    minutes = int((end - start) / timedelta(minutes=1))
    slot = slot_id(doctor_id, start, minutes)
    participants = [
        Participant(
            actor=Reference(reference=practitioner_reference(doctor_id)),
            required="required",
            status="needs-action" if status == "proposed" else "tentative",
        )
    ]
    if patient_id is not None:
        participants.append(
            Participant(
                actor=Reference(reference=patient_reference(patient_id)),
                required="required",
                status="needs-action",
            )
        )
    return AppointmentResource(
        id=identifier or f"{PROPOSED}{slot}",
        status=status,
        start=zoned(start, zone),
        end=zoned(end, zone),
        minutesDuration=minutes,
        slot=[Reference(reference=f"Slot/{slot}")],
        participant=participants,
    )


def held_resource(hold: SlotHold, zone: ZoneInfo) -> AppointmentResource:
    return proposed(
        hold.doctor_id,
        hold.start,
        hold.end,
        zone,
        hold.patient_id,
        status="pending",
        identifier=f"{HOLD}{hold.hold_id}",
    )


def still_running(appointment_id: str) -> JSONResponse:
    """The saga outlasted the wait: 202 and where to read the outcome."""
    note = OperationOutcome(
        issue=[
            Issue(
                severity="information",
                code="informational",
                diagnostics=f"still running: read Appointment/{appointment_id} shortly",
            )
        ]
    )
    return fhir_json(
        note.dump(),
        202,
        **{"Retry-After": "1", "Content-Location": f"{FHIR_BASE}/Appointment/{appointment_id}"},
    )


# --- $find ---------------------------------------------------------------------------------


def _one(values: dict[str, list[str]], name: str) -> str | None:
    return single(values, name)


async def find(services: Services, requester: Requester, values: dict[str, list[str]]) -> Bundle:
    unknown = set(values) - FIND_PARAMETERS
    if unknown:
        raise invalid(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    limit = count(values)
    patient = _one(values, "patient-reference")
    patient_id = None
    if patient is not None:
        try:
            patient_id = referenced_id(patient, "Patient")
        except ValueError as error:
            raise invalid(f"patient-reference: {error}") from None
    practitioner, specialty = _one(values, "practitioner"), _one(values, "specialty")
    start, end = _one(values, "start"), _one(values, "end")
    if start is None or end is None:
        raise invalid("give start and end: an unbounded $find is refused")
    if practitioner is not None:
        try:
            doctor_id = referenced_id(practitioner, "Practitioner")
        except ValueError as error:
            raise invalid(f"practitioner: {error}") from None
        doctor = await services.schedule.doctor(doctor_id, requester)
        if specialty is not None and doctor.specialty.casefold() != specialty.casefold():
            doctors: list[str] = []
        else:
            doctors = [doctor.id]
        max_days = services.holds.max_window_days
    else:
        listed = await services.schedule.doctors(requester)
        doctors = [
            d.id
            for d in listed
            if specialty is None or d.specialty.casefold() == specialty.strip().casefold()
        ]
        max_days = FIND_ACROSS_DOCTORS_MAX_DAYS
    clinic = ZoneInfo(services.schedule.clinic_timezone)
    lower = date_bounds([f"ge{start}"], clinic, "start").lower
    upper = date_bounds([f"lt{end}"], clinic, "end").upper
    # ge and lt always bound their side
    assert lower is not None
    assert upper is not None
    if lower >= upper:
        raise invalid("start must be before end")
    if upper - lower > timedelta(days=max_days):
        raise invalid(
            f"the window may span at most {max_days} days"
            + ("" if practitioner else " without a practitioner")
        )
    found: list[AppointmentResource] = []
    for doctor_id in doctors:
        calendar = await services.holds.calendar(doctor_id, requester)
        for slot in await free_slots(services, requester, doctor_id, lower, upper):
            found.append(proposed(doctor_id, slot.start, slot.end, calendar.zone, patient_id))
    found.sort(key=lambda a: (a.start or "", a.id or ""))
    shown = found[:limit]
    return Bundle(
        total=len(found),
        entry=[
            BundleEntry(
                fullUrl=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, a.id or '')}",
                resource=a.dump(),
                search=BundleSearch(mode="match"),
            )
            for a in shown
        ]
        or None,
    )


@router.get("/$find", summary="IHE ITI Scheduling $find: proposed Appointments of free slots")
async def find_get(
    request: Request, requester: RequesterDep, services: ServicesDep
) -> JSONResponse:
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if value == "":
            raise invalid(f"parameter {name!r} is empty")
        values.setdefault(name, []).append(value)
    bundle = await find(services, requester, values)
    return fhir_json(_with_self(bundle, request).dump())


@router.post("/$find", summary="IHE ITI Scheduling $find, with a Parameters body")
async def find_post(
    request: Request, requester: RequesterDep, services: ServicesDep
) -> JSONResponse:
    body = await body_of(request)
    if not isinstance(body, ParametersIn):
        raise invalid("$find takes a Parameters resource")
    values: dict[str, list[str]] = {}
    for p in body.parameter:
        text = p.text()
        if text is None:
            raise invalid(f"parameter {p.name!r} has no value")
        values.setdefault(p.name, []).append(text)
    bundle = await find(services, requester, values)
    return fhir_json(_with_self(bundle, request).dump())


def _with_self(bundle: Bundle, request: Request) -> Bundle:
    return bundle.model_copy(update={"link": [BundleLink(relation="self", url=str(request.url))]})


# --- $hold ---------------------------------------------------------------------------------


@router.post("/$hold", summary="IHE ITI Scheduling $hold: hold a proposed Appointment's slot")
async def hold(
    request: Request,
    requester: RequesterDep,
    services: ServicesDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    found = named(await body_of(request))
    if found.slot is None:
        raise invalid("$hold takes a proposed Appointment: one that names its slot")
    doctor_id, start, minutes = found.slot
    patient_id = patient_of(found, requester)
    calendar = await services.holds.calendar(doctor_id, requester)
    held = await services.holds.hold(
        doctor_id,
        start,
        minutes,
        patient_id,
        requester,
        idempotency_key(key) if key is not None else str(uuid.uuid4()),
    )
    return fhir_json(held_resource(held, calendar.zone).dump())


# --- $book ---------------------------------------------------------------------------------


def _booked(appointment: Appointment, status: int) -> JSONResponse:
    location = f"{FHIR_BASE}/Appointment/{appointment.id}"
    headers = {"Location": location} if status == 201 else {}
    return fhir_json(
        appointment_resource(appointment).dump(),
        status,
        ETag=f'W/"{appointment.version}"',
        **headers,
    )


@router.post("/$book", summary="IHE ITI Scheduling $book: book (or cancel) an Appointment")
async def book(
    request: Request,
    requester: RequesterDep,
    services: ServicesDep,
    wait: WaitDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    if key is None:
        raise invalid("send an Idempotency-Key header: $book books or cancels once")
    checked_key = idempotency_key(key)
    found = named(await body_of(request))
    if found.status == "cancelled":
        assert found.appointment_id is not None
        reason = found.sent.cancelationReason if found.sent else None
        cancel = Cancel(
            appointment_id=found.appointment_id,
            cancellation=CancellationDetails(reason=reason.text if reason else None),
            idempotency_key=checked_key,
        )
        answer = await services.sagas.cancel(cancel, requester, wait)
        if isinstance(answer, SagaRunning):
            return still_running(answer.appointment_id)
        return _booked(answer, 200)
    if found.appointment_id is not None:
        raise invalid(
            "$book books a hold (Appointment/hold-...) or a proposed Appointment; an existing "
            "appointment only with status cancelled"
        )
    description = found.sent.description if found.sent else None
    if found.hold_id is not None:
        joining = await services.booking.started(checked_key, requester)
        hold, adopted = await services.holds.adopt(found.hold_id, requester, joining=joining)
        if found.patient_id not in (None, hold.patient_id):
            raise invalid("the Appointment names another patient than its hold")
        minutes = int((hold.end - hold.start) / timedelta(minutes=1))
        new = _new_appointment(hold.patient_id, hold.doctor_id, hold.start, minutes, description)
        command = Book(appointment=new, idempotency_key=checked_key, held=adopted)
    else:
        assert found.slot is not None
        doctor_id, start, minutes = found.slot
        new = _new_appointment(patient_of(found, requester), doctor_id, start, minutes, description)
        command = Book(appointment=new, idempotency_key=checked_key)
    booked = await services.booking.book(command, requester, wait)
    if isinstance(booked, SagaRunning):
        return still_running(booked.appointment_id)
    return _booked(booked, 201)


def _new_appointment(
    patient_id: str, doctor_id: str, start: datetime, minutes: int, reason: str | None
) -> NewAppointment:
    try:
        return NewAppointment(
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=start,
            duration_minutes=minutes,
            reason=reason,
        )
    except ValidationError as error:
        raise invalid(f"the Appointment cannot be booked: {_problems(error)}") from None
