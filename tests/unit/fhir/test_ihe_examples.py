"""The implementation guides' example resources (tests/unit/fhir/examples, sources in its
README): they parse with fhir.resources (R4B), keep app-2 and app-3, and map into this
service's inputs where they should: a proposed Appointment into what ``$hold`` and
``$book`` hold and book, a Slot into doctor, start and minutes, a booked Appointment's
status into ours."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment as R4BAppointment
from fhir.resources.R4B.slot import Slot as R4BSlot

from api.fhir.mapping import ours, slot_id
from api.fhir.operations import Named, named
from api.fhir.operations import ParametersIn as Parameters
from api.fhir.slots import slot_of
from domain.status import AppointmentStatus
from tests.unit.fhir.test_door import valid_appointment

EXAMPLES = Path(__file__).parent / "examples"


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


def test_every_example_parses_and_every_appointment_keeps_the_invariants() -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        resource = json.loads(path.read_text())
        if resource["resourceType"] == "Appointment":
            R4BAppointment.model_validate(resource)
            valid_appointment(resource)
        else:
            R4BSlot.model_validate(resource)


def test_the_ihe_proposed_appointment_is_what_hold_and_book_take() -> None:
    proposed = example("ihe-appointment-proposed.json")
    parameters = Parameters.model_validate(
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "appointment", "resource": proposed},
                {"name": "patient-reference", "valueReference": {"reference": "Patient/pat1"}},
            ],
        }
    )
    found = named(parameters)
    start = datetime(2017, 7, 17, 0, 45, tzinfo=UTC)
    assert (found.slot, found.patient_id, found.hold_id) == (("dr-y", start, 15), "pat1", None)
    # The same Appointment as a $book body: a booking of that slot (no hold of ours).
    as_body = named(
        Parameters.model_validate(
            {
                "resourceType": "Parameters",
                "parameter": [
                    {
                        "name": "appointment",
                        "resource": {
                            **proposed,
                            "slot": [{"reference": f"Slot/{slot_id('dr-y', start, 15)}"}],
                        },
                    },
                ],
            }
        )
    )
    assert as_body.slot == ("dr-y", start, 15)


def test_the_hl7_slot_is_a_doctor_a_start_and_minutes() -> None:
    doctor, start, minutes = slot_of(example("hl7-slot-example.json"))
    assert (doctor, start, minutes) == ("example", datetime(2013, 12, 25, 9, 15, tzinfo=UTC), 15)
    assert slot_id(doctor, start, minutes) == "example.20131225T0915Z.15"


def test_the_ihe_booked_appointment_reads_as_confirmed() -> None:
    booked = example("ihe-appointment-booked.json")
    (patient,) = [p for p in booked["participant"] if "Patient/" in p["actor"].get("reference", "")]
    assert ours(booked["status"], patient["status"]) is AppointmentStatus.CONFIRMED


def test_a_slot_that_names_no_schedule_is_refused() -> None:
    slot = example("hl7-slot-example.json")
    with pytest.raises(ValueError, match="Schedule"):
        slot_of({**slot, "schedule": {"reference": "Practitioner/example"}})
    with pytest.raises(ValueError, match="not a Slot"):
        slot_of({**slot, "start": "2013-12-25T09:15:00"})
    assert Named().slot is None
