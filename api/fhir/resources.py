"""What the FHIR door emits, as our own small, strict pydantic models (the boundary): the
R4 resources we answer, with only the elements we fill. ``fhir.resources`` validates them
in the tests; the service does not depend on it.

Every model forbids unknown fields, and ``dump`` leaves out what is unset, as FHIR asks (no
nulls, no empty arrays)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"


class _Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class Coding(_Element):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(_Element):
    coding: list[Coding] | None = None
    text: str | None = None


class Reference(_Element):
    reference: str | None = None
    display: str | None = None


class Period(_Element):
    start: str | None = None
    end: str | None = None


class Meta(_Element):
    versionId: str | None = None
    lastUpdated: str | None = None


class Participant(_Element):
    type: list[CodeableConcept] | None = None
    actor: Reference | None = None
    required: Literal["required", "optional", "information-only"] | None = None
    status: Literal["accepted", "declined", "tentative", "needs-action"]


class AppointmentResource(_Element):
    resourceType: Literal["Appointment"] = "Appointment"
    id: str | None = None
    meta: Meta | None = None
    status: Literal[
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    ]
    cancelationReason: CodeableConcept | None = None
    serviceType: list[CodeableConcept] | None = None
    specialty: list[CodeableConcept] | None = None
    priority: int | None = Field(None, ge=0)  # unsignedInt: 0 undefined, 1 highest, 9 lowest
    description: str | None = None
    start: str | None = None
    end: str | None = None
    minutesDuration: int | None = Field(None, gt=0)
    slot: list[Reference] | None = None
    created: str | None = None
    comment: str | None = None
    participant: list[Participant] = Field(min_length=1)
    requestedPeriod: list[Period] | None = None


class ScheduleResource(_Element):
    resourceType: Literal["Schedule"] = "Schedule"
    id: str
    active: bool
    serviceType: list[CodeableConcept] | None = None
    specialty: list[CodeableConcept] | None = None
    actor: list[Reference] = Field(min_length=1)
    planningHorizon: Period | None = None
    comment: str | None = None


class SlotResource(_Element):
    resourceType: Literal["Slot"] = "Slot"
    id: str
    meta: Meta | None = None
    serviceType: list[CodeableConcept] | None = None
    specialty: list[CodeableConcept] | None = None
    schedule: Reference
    status: Literal["busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"]
    start: str
    end: str
    comment: str | None = None


class Issue(_Element):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcome(_Element):
    resourceType: Literal["OperationOutcome"] = "OperationOutcome"
    issue: list[Issue] = Field(min_length=1)


class BundleLink(_Element):
    relation: str
    url: str


class BundleSearch(_Element):
    mode: Literal["match", "include", "outcome"]


class BundleEntry(_Element):
    fullUrl: str | None = None
    resource: dict[str, Any]
    search: BundleSearch | None = None


class Bundle(_Element):
    resourceType: Literal["Bundle"] = "Bundle"
    type: Literal["searchset"] = "searchset"
    total: int | None = Field(None, ge=0)
    link: list[BundleLink] | None = None
    entry: list[BundleEntry] | None = None


class SearchParam(_Element):
    name: str
    type: Literal["number", "date", "string", "token", "reference", "composite", "quantity", "uri"]
    documentation: str | None = None


class Interaction(_Element):
    code: Literal["read", "vread", "update", "patch", "delete", "history-instance", "create"] | str


class OperationRef(_Element):
    name: str
    definition: str


class RestResource(_Element):
    type: str
    interaction: list[Interaction]
    searchParam: list[SearchParam] | None = None
    operation: list[OperationRef] | None = None


class Security(_Element):
    cors: bool | None = None
    service: list[CodeableConcept] | None = None
    description: str | None = None


class Rest(_Element):
    mode: Literal["server"] = "server"
    security: Security | None = None
    resource: list[RestResource]


class Software(_Element):
    name: str
    version: str | None = None


class Implementation(_Element):
    description: str
    url: str | None = None


class CapabilityStatement(_Element):
    resourceType: Literal["CapabilityStatement"] = "CapabilityStatement"
    status: Literal["active"] = "active"
    date: str
    kind: Literal["instance"] = "instance"
    software: Software | None = None
    implementation: Implementation | None = None
    fhirVersion: Literal["4.0.1"] = "4.0.1"
    format: list[str] = ["json"]
    rest: list[Rest]
