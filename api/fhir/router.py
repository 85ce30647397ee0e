"""The FHIR R4 door, under ``/fhir/R4``: the one place that lists its modules.

Each module has a ``router`` and ``CAPABILITIES`` (api/fhir/capability.py). ``MODULES``
includes the routers and makes ``/metadata`` from the capabilities, so the
CapabilityStatement lists exactly what is routed. A new module is one more line in
``MODULES``."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.fhir import appointments, operations, schedules, slots, waitlist
from api.fhir.appointments import fhir_json
from api.fhir.capability import ResourceCapability, capability_statement
from api.fhir.media import negotiate
from api.fhir.outcome import FHIR_BASE
from api.fhir.search import parameters
from domain.clock import now_utc

# The door's modules, each with ``router`` and ``CAPABILITIES``.
# ``operations`` before ``appointments``: its ``/Appointment/$find`` would otherwise be
# taken for the read of an Appointment with the id ``$find``; ``waitlist`` too, for its
# ``/Appointment/waitlist-<entry id>``.
MODULES: tuple[ModuleType, ...] = (operations, waitlist, appointments, schedules, slots)

# Not in the OpenAPI document (whose errors are all problem+json): a FHIR client reads
# /metadata, which describes this door.
# Every route answers JSON only: ``negotiate`` refuses a request that accepts none.
fhir_router = APIRouter(
    prefix=FHIR_BASE, tags=["fhir"], include_in_schema=False, dependencies=[Depends(negotiate)]
)


def capabilities() -> list[ResourceCapability]:
    return [c for module in MODULES for c in module.CAPABILITIES]


@fhir_router.get("/metadata", summary="The CapabilityStatement")
async def metadata(request: Request) -> JSONResponse:
    """What this server implements; open to anyone, as FHIR asks (no token)."""
    parameters(request, ())
    version: Any = request.app.version
    return fhir_json(capability_statement(capabilities(), now_utc(), str(version)).dump())


for _module in MODULES:
    fhir_router.include_router(_module.router)
