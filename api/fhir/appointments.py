"""Appointment on the FHIR door: read, and search by patient, practitioner (or actor),
date, status, with ``_count`` paging. The same use cases, and so the same permissions, as
REST's ``GET /api/v1/appointments[/{id}]``."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.deps import RequesterDep, ServicesDep
from api.fhir.capability import Param, ResourceCapability
from api.fhir.mapping import (
    WAITLIST,
    appointment_resource,
    referenced_id,
    statuses_of,
)
from api.fhir.resources import MEDIA_TYPE, Issue, OperationOutcome
from api.fhir.search import (
    count,
    cursor,
    date_bounds,
    invalid,
    parameters,
    query_of,
    searchset,
    single,
)
from api.fhir.waitlist import search_waitlist
from application.commands import ListAppointments
from application.identifiers import APPOINTMENT_ID
from application.results import PendingBooking

router = APIRouter(prefix="/Appointment", tags=["fhir"])

CAPABILITIES = (
    ResourceCapability(
        type="Appointment",
        interactions=("read", "search-type"),
        search=(
            Param("patient", "reference", "Patient/<id> or <id>: one patient's appointments"),
            Param("practitioner", "reference", "Practitioner/<id> or <id>: one doctor's"),
            Param("actor", "reference", "Patient/<id> or Practitioner/<id>"),
            Param("date", "date", "the start, with prefixes eq, ge, gt, le, lt; repeatable"),
            Param(
                "status",
                "token",
                "FHIR Appointment.status; comma-separated for several. waitlist (active "
                "waitlist entries, ids waitlist-<entry id>) only on its own and without date",
            ),
        ),
    ),
)
_SEARCH = CAPABILITIES[0].search_names


def fhir_json(document: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(document, status_code=status, media_type=MEDIA_TYPE, headers=headers)


@router.get("/{appointment_id}", summary="Read an Appointment")
async def read_appointment(
    appointment_id: Annotated[str, Path(pattern=f"^{APPOINTMENT_ID}$")],
    requester: RequesterDep,
    services: ServicesDep,
) -> JSONResponse:
    found = await services.booking.read(appointment_id.lower(), requester)
    if isinstance(found, PendingBooking):
        # Its booking saga has not stored it yet: no start to show (app-3), so say so.
        still = OperationOutcome(
            issue=[
                Issue(
                    severity="information",
                    code="informational",
                    diagnostics="the booking is still running; retry shortly",
                )
            ]
        )
        return fhir_json(still.dump(), 202, **{"Retry-After": "1"})
    why = await services.reads.cancellation(found)
    resource = appointment_resource(found, cancellation=why)
    return fhir_json(resource.dump(), ETag=f'W/"{found.version}"')


@router.get("", summary="Search Appointments")
async def search_appointments(
    request: Request, requester: RequesterDep, services: ServicesDep
) -> JSONResponse:
    found = parameters(request, _SEARCH)
    patient_id, doctor_id = _who(found)
    codes = [code for value in found.get("status", []) for code in value.split(",")]
    if WAITLIST in codes:  # waitlist entries, not appointments (api/fhir/waitlist.py)
        bundle = await search_waitlist(
            request, requester, services, found, codes, (patient_id, doctor_id)
        )
        return fhir_json(bundle.dump())
    statuses: set[str] = set()
    for value in found.get("status", []):
        for code in value.split(","):
            try:
                statuses |= {s.value for s in statuses_of(code)}
            except ValueError as error:
                raise invalid(f"status: {error}") from None
    bounds = date_bounds(found.get("date", []), ZoneInfo(services.schedule.clinic_timezone))
    size = count(found)
    if bounds.empty or ("status" in found and not statuses):
        return fhir_json(searchset(request, "Appointment", [], 0, None).dump())
    query = query_of(
        ListAppointments,
        {
            "patient_id": patient_id,
            "doctor_id": doctor_id,
            "status": sorted(statuses),
            "from": bounds.lower,
            "to": bounds.upper,
            "limit": size,
            "cursor": cursor(found),
        },
    )
    page = await services.reads.page(query, requester)
    total = await services.reads.total(query, requester)
    resources = [
        appointment_resource(a, cancellation=await services.reads.cancellation(a)).dump()
        for a in page.items
    ]
    return fhir_json(searchset(request, "Appointment", resources, total, page.next_cursor).dump())


def _who(found: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """(patient id, doctor id) of ``patient``, ``practitioner`` and ``actor``."""
    patient = single(found, "patient")
    doctor = single(found, "practitioner")
    try:
        patient_id = referenced_id(patient, "Patient") if patient else None
        doctor_id = referenced_id(doctor, "Practitioner") if doctor else None
        for actor in found.get("actor", []):
            if actor.startswith("Patient/"):
                patient_id = _same(patient_id, referenced_id(actor, "Patient"), "patient")
            else:
                doctor_id = _same(doctor_id, referenced_id(actor, "Practitioner"), "practitioner")
    except ValueError as error:
        raise invalid(str(error)) from None
    return patient_id, doctor_id


def _same(before: str | None, now: str, name: str) -> str:
    if before is not None and before != now:
        raise ValueError(f"actor names another {name} than the search does")
    return now
