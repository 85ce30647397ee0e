"""What each module of the FHIR door implements, declared next to its routes, and the
CapabilityStatement collected from those declarations (so ``/metadata`` cannot drift).

A module of the door (api/fhir/appointments.py, ...) has a ``router`` and a
``CAPABILITIES`` tuple of ``ResourceCapability``; api/fhir/router.py lists the modules
once, includes their routers and collects their capabilities. Entries for the same
resource type from several modules (Appointment read/search here, its operations there)
merge into one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from api.fhir.resources import (
    CapabilityStatement,
    CodeableConcept,
    Coding,
    Implementation,
    Interaction,
    OperationRef,
    Rest,
    RestResource,
    SearchParam,
    Security,
    Software,
)


@dataclass(frozen=True, slots=True)
class Param:
    """A search parameter a search accepts: its name, FHIR type and what it does."""

    name: str
    type: str
    documentation: str


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation, e.g. ``Operation("find", "http://.../OperationDefinition/...")``."""

    name: str
    definition: str


@dataclass(frozen=True, slots=True)
class ResourceCapability:
    """What a module implements of one resource type: interactions (``read``,
    ``search-type``), search parameters and operations."""

    type: str
    interactions: tuple[str, ...] = ()
    search: tuple[Param, ...] = ()
    operations: tuple[Operation, ...] = ()

    @property
    def search_names(self) -> frozenset[str]:
        """The parameters its search accepts (besides ``_count``, ``_cursor``,
        ``_format``): api/fhir/search.py refuses every other."""
        return frozenset(p.name for p in self.search)


@dataclass
class _Merged:
    interactions: list[str] = field(default_factory=list)
    search: dict[str, Param] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)


def capability_statement(
    capabilities: Iterable[ResourceCapability], now: datetime, version: str
) -> CapabilityStatement:
    """The statement of exactly ``capabilities``, one entry per resource type."""
    merged: dict[str, _Merged] = {}
    for capability in capabilities:
        entry = merged.setdefault(capability.type, _Merged())
        entry.interactions += [i for i in capability.interactions if i not in entry.interactions]
        entry.search |= {p.name: p for p in capability.search}
        entry.operations |= {o.name: o for o in capability.operations}
    resources = [
        RestResource(
            type=kind,
            interaction=[Interaction(code=code) for code in entry.interactions],
            searchParam=[
                SearchParam(name=p.name, type=p.type, documentation=p.documentation)
                for p in entry.search.values()
            ]
            or None,
            operation=[
                OperationRef(name=o.name, definition=o.definition)
                for o in entry.operations.values()
            ]
            or None,
        )
        for kind, entry in merged.items()
    ]
    smart = "http://terminology.hl7.org/CodeSystem/restful-security-service"
    return CapabilityStatement(
        date=now.isoformat(timespec="seconds"),
        software=Software(name="Appointment Service", version=version),
        implementation=Implementation(description="The clinic's appointment service: FHIR R4"),
        rest=[
            Rest(
                security=Security(
                    service=[CodeableConcept(coding=[Coding(system=smart, code="SMART-on-FHIR")])],
                    description="Bearer JWT; SMART on FHIR v2 scopes (scope claim) narrow the "
                    "role's permissions",
                ),
                resource=resources,
            )
        ],
    )
