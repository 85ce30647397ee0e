"""An appointment's history (``Reads.history``): its events oldest first. Admin and staff
see every change as recorded; the appointment's patient and doctor see their own
changes so too, but another user's only by role, and without its request id."""

from __future__ import annotations

import pytest

from application.access import Requester
from application.commands import ChangeStatus, Edit, EditDetails
from application.permissions import Role
from domain.events import AppointmentEvent, EventContext
from domain.model import Appointment
from tests.fakes import World
from tests.unit.application.support import ADMIN, LATER, STAFF, THE_DOCTOR, THE_PATIENT, asking

DESK = asking(Role.STAFF, "frontdesk-2", request_id="req-desk")
PATIENT_ASKS = asking(Role.PATIENT, request_id="req-patient")
DOCTOR_ASKS = asking(Role.DOCTOR, request_id="req-doctor")


@pytest.fixture
async def changed(world: World) -> Appointment:
    """Booked (planted by staff), confirmed by the desk, edited by the patient, checked in
    by the doctor: four users' changes, each with its request id."""
    appointment = await world.repository.plant(start=LATER)
    changes = world.services.changes
    await changes.change_status(
        ChangeStatus(appointment_id=appointment.id, action="confirm", reason="phoned"), DESK
    )
    await changes.edit(
        Edit(appointment_id=appointment.id, edit=EditDetails(notes="allergic")), PATIENT_ASKS
    )
    await changes.change_status(
        ChangeStatus(appointment_id=appointment.id, action="check-in"), DOCTOR_ASKS
    )
    return appointment


def contexts(events: list[AppointmentEvent]) -> list[tuple[str, str | None, str | None]]:
    return [(e.context.actor, e.context.request_id, e.context.reason) for e in events]


AS_RECORDED = [
    ("staff:frontdesk-1", None, None),  # requested, by the booking saga
    ("staff:frontdesk-1", None, None),  # scheduled
    ("staff:frontdesk-2", "req-desk", "phoned"),
    ("patient:pat-anna-schmidt", "req-patient", None),
    ("doctor:doc-on-call", "req-doctor", None),
]


@pytest.mark.parametrize("who", [ADMIN, STAFF], ids=["admin", "staff"])
async def test_admin_and_staff_see_every_change_as_recorded(
    world: World, changed: Appointment, who: Requester
) -> None:
    events = (await world.services.reads.history(changed.id, who)).events

    assert events == await world.repository.history(changed.id)
    assert contexts(events) == AS_RECORDED
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]


# What the appointment's patient and its doctor see: their own changes as recorded, the
# other owner by name (they know each other from the appointment) but not their request,
# staff by role only and without the request id.
SEEN_BY_THE_PATIENT = [
    ("staff", None, None),
    ("staff", None, None),
    ("staff", None, "phoned"),
    ("patient:pat-anna-schmidt", "req-patient", None),
    ("doctor:doc-on-call", None, None),
]
SEEN_BY_THE_DOCTOR = [
    *SEEN_BY_THE_PATIENT[:3],
    ("patient:pat-anna-schmidt", None, None),
    ("doctor:doc-on-call", "req-doctor", None),
]


@pytest.mark.parametrize(
    ("who", "seen"),
    [(THE_PATIENT, SEEN_BY_THE_PATIENT), (THE_DOCTOR, SEEN_BY_THE_DOCTOR)],
    ids=["patient", "doctor"],
)
async def test_the_patient_and_doctor_see_other_users_by_role_only(
    world: World,
    changed: Appointment,
    who: Requester,
    seen: list[tuple[str, str | None, str | None]],
) -> None:
    events = (await world.services.reads.history(changed.id, who)).events

    assert contexts(events) == seen
    # Who, which request and which saga run are withheld: what changed and when is there.
    stored = await world.repository.history(changed.id)
    assert [(e.seq, e.type, e.after, e.occurred_at) for e in events] == [
        (e.seq, e.type, e.after, e.occurred_at) for e in stored
    ]
    assert {(e.context.workflow_id, e.context.run_id) for e in events} == {(None, None)}


async def test_a_system_actor_is_shown_by_its_kind(world: World) -> None:
    appointment = await world.repository.plant(start=LATER, actor="system:reconciler")
    stored = await world.repository.history(appointment.id)
    assert stored[0].context == EventContext(
        actor="system:reconciler", workflow_id=f"booking-{appointment.id}"
    )

    events = (await world.services.reads.history(appointment.id, THE_PATIENT)).events

    assert {e.context.actor for e in events} == {"system"}


async def test_withholding_changes_nothing_stored(world: World, changed: Appointment) -> None:
    before = await world.repository.history(changed.id)

    await world.services.reads.history(changed.id, THE_PATIENT)

    assert await world.repository.history(changed.id) == before
    assert contexts(before) == AS_RECORDED
