"""Schedule on the FHIR door: one per doctor (its id is the doctor's), read and search by
``actor``. Its planning horizon is now to the booking horizon (domain/rules.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.deps import RequesterDep, ServicesDep
from api.fhir.appointments import fhir_json
from api.fhir.capability import Param, ResourceCapability
from api.fhir.mapping import instant, practitioner_reference, referenced_id
from api.fhir.resources import CodeableConcept, Period, Reference, ScheduleResource
from api.fhir.search import invalid, parameters, searchset
from application.identifiers import ENTITY_ID
from application.ports import DoctorProfile
from domain.clock import now_utc
from domain.rules import BookingLimits

router = APIRouter(prefix="/Schedule", tags=["fhir"])

CAPABILITIES = (
    ResourceCapability(
        type="Schedule",
        interactions=("read", "search-type"),
        search=(Param("actor", "reference", "Practitioner/<id> or <id>: the doctor's schedule"),),
    ),
)
_SEARCH = CAPABILITIES[0].search_names
# How far ahead a booking may start: the end of every schedule's planning horizon.
HORIZON = timedelta(days=BookingLimits().max_days_ahead)


def schedule_resource(doctor: DoctorProfile) -> ScheduleResource:
    now = now_utc()
    specialty = [CodeableConcept(text=doctor.specialty)]
    return ScheduleResource(
        id=doctor.id,
        active=True,
        serviceType=specialty,
        specialty=specialty,
        actor=[Reference(reference=practitioner_reference(doctor.id), display=doctor.name)],
        planningHorizon=Period(start=instant(now), end=instant(now + HORIZON)),
    )


@router.get("/{doctor_id}", summary="Read a doctor's Schedule")
async def read_schedule(
    doctor_id: Annotated[str, Path(pattern=f"^{ENTITY_ID}$")],
    requester: RequesterDep,
    services: ServicesDep,
) -> JSONResponse:
    doctor = await services.schedule.doctor(doctor_id, requester)
    return fhir_json(schedule_resource(doctor).dump())


@router.get("", summary="Search Schedules")
async def search_schedules(
    request: Request, requester: RequesterDep, services: ServicesDep
) -> JSONResponse:
    found = parameters(request, _SEARCH)
    wanted: set[str] = set()
    for actor in found.get("actor", []):
        try:
            wanted.add(referenced_id(actor, "Practitioner"))
        except ValueError as error:
            raise invalid(f"actor: {error}") from None
    doctors = await services.schedule.doctors(requester)
    shown = [d for d in doctors if not wanted or d.id in wanted]
    resources = [schedule_resource(d).dump() for d in shown]
    return fhir_json(searchset(request, "Schedule", resources, len(resources), None).dump())
