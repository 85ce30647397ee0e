"""The permission matrix, through every use case that acts on one appointment, for every
role: "any" acts on anyone's, "own" on its own only (someone else's reads exactly as a
missing one), and a role that may never is refused (403) before the appointment is even
looked up. The table is written out from the README, so changing it changes this test."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from api.graphql.errors import NOT_FOUND, problem_of
from application.access import Requester
from application.commands import (
    Cancel,
    ChangeStatus,
    Edit,
    EditDetails,
    EnterInError,
    NewTime,
    Reschedule,
    StatusAction,
)
from application.permissions import Forbidden, NotVisible, Role
from application.results import SagaRunning
from application.services import Services
from domain.errors import AppointmentNotFound
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    DOCTOR,
    EARLIER,
    LATER,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    asking,
    key,
)

S = AppointmentStatus
# Calls the use case on the appointment with this id; answers the id it answered about.
Call = Callable[[Services, Requester, str], Awaitable[str]]


async def read(services: Services, who: Requester, appointment_id: str) -> str:
    return (await services.booking.read(appointment_id, who)).id


async def history(services: Services, who: Requester, appointment_id: str) -> str:
    page = await services.reads.history(appointment_id, who)
    return page.events[0].appointment_id


async def view(services: Services, who: Requester, appointment_id: str) -> str:
    return (await services.schedule.appointment(appointment_id, who)).id


async def cancel(services: Services, who: Requester, appointment_id: str) -> str:
    command = Cancel(appointment_id=appointment_id, idempotency_key=key("cancel"))
    done = await services.sagas.cancel(command, who, 1.0)
    assert not isinstance(done, SagaRunning)
    return done.id


async def reschedule(services: Services, who: Requester, appointment_id: str) -> str:
    new_time = NewTime(start=LATER + timedelta(days=1))
    command = Reschedule(appointment_id=appointment_id, new_time=new_time, idempotency_key=key())
    done = await services.sagas.reschedule(command, who, 1.0)
    assert not isinstance(done, SagaRunning)
    return done.id


def status_change(action: StatusAction) -> Call:
    async def change(services: Services, who: Requester, appointment_id: str) -> str:
        command = ChangeStatus(appointment_id=appointment_id, action=action)
        return (await services.changes.change_status(command, who)).id

    return change


async def edit(services: Services, who: Requester, appointment_id: str) -> str:
    command = Edit(appointment_id=appointment_id, edit=EditDetails(notes="bring the X-ray"))
    return (await services.changes.edit(command, who)).id


async def delete(services: Services, who: Requester, appointment_id: str) -> str:
    command = EnterInError(appointment_id=appointment_id)
    return (await services.changes.enter_in_error(command, who)).id


@dataclass(frozen=True)
class UseCase:
    name: str
    scopes: tuple[str, str, str, str]  # admin, staff, doctor, patient, as in the README
    call: Call
    before: AppointmentStatus  # a status the use case can act on
    after: AppointmentStatus  # the status once it did
    start: datetime = LATER

    def __str__(self) -> str:
        return self.name


confirm, check_in = status_change("confirm"), status_change("check-in")
complete, no_show = status_change("complete"), status_change("no-show")
# Rows of the README table (admin, staff, doctor, patient) that several use cases share.
READERS, PATIENT_SIDE = ("any", "any", "own", "own"), ("any", "any", "—", "own")
CLINICAL = ("any", "any", "own", "—")

USE_CASES = (
    UseCase("read", READERS, read, S.SCHEDULED, S.SCHEDULED),
    UseCase("history", READERS, history, S.SCHEDULED, S.SCHEDULED),
    UseCase("view", READERS, view, S.SCHEDULED, S.SCHEDULED),
    UseCase("cancel", PATIENT_SIDE, cancel, S.SCHEDULED, S.CANCELLED),
    UseCase("reschedule", PATIENT_SIDE, reschedule, S.CONFIRMED, S.SCHEDULED),
    UseCase("confirm", PATIENT_SIDE, confirm, S.SCHEDULED, S.CONFIRMED),
    UseCase("check-in", CLINICAL, check_in, S.SCHEDULED, S.CHECKED_IN),
    UseCase("complete", CLINICAL, complete, S.CHECKED_IN, S.COMPLETED),
    UseCase("no-show", CLINICAL, no_show, S.SCHEDULED, S.NO_SHOW, start=EARLIER),
    UseCase("edit", PATIENT_SIDE, edit, S.SCHEDULED, S.SCHEDULED),
    UseCase("delete", ("any", "—", "—", "—"), delete, S.CANCELLED, S.FAILED),
)
ROLES = (Role.ADMIN, Role.STAFF, Role.DOCTOR, Role.PATIENT)


def pairs(scope: str) -> list[tuple[UseCase, Role]]:
    return [
        (case, role)
        for case in USE_CASES
        for role, granted in zip(ROLES, case.scopes, strict=True)
        if granted == scope
    ]


async def plant(world: World, case: UseCase, patient_id: str, doctor_id: str) -> str:
    appointment = await world.repository.plant(
        patient_id=patient_id, doctor_id=doctor_id, start=case.start, status=case.before
    )
    world.view.add(appointment)  # the read view has caught up
    return appointment.id


def someone_elses(role: Role) -> tuple[str, str]:
    """(patient, doctor) of an appointment that is not ``role``'s own, sharing the other
    party with the caller, so only the owner check can refuse it."""
    return (
        OTHER_PATIENT if role is Role.PATIENT else PATIENT,
        OTHER_DOCTOR if role is Role.DOCTOR else DOCTOR,
    )


# Whose appointment a scope is tried on: "any" on strangers', "own" on the caller's own.
ON = {"any": (OTHER_PATIENT, OTHER_DOCTOR), "own": (PATIENT, DOCTOR)}


@pytest.mark.parametrize(
    ("case", "role", "scope"),
    [(case, role, scope) for scope in ON for case, role in pairs(scope)],
    ids=str,
)
async def test_a_role_acts_on_the_appointments_its_scope_covers(
    world: World, case: UseCase, role: Role, scope: str
) -> None:
    appointment_id = await plant(world, case, *ON[scope])

    assert await case.call(world.services, asking(role), appointment_id) == appointment_id

    stored = await world.repository.get(appointment_id)
    assert stored is not None
    assert stored.status is case.after


@pytest.mark.parametrize(
    ("case", "role", "scope"),
    [(case, role, scope) for scope in ("own", "—") for case, role in pairs(scope)],
    ids=str,
)
async def test_a_refusal_changes_nothing_and_gives_nothing_away(
    world: World, case: UseCase, role: Role, scope: str
) -> None:
    # "own" is refused on someone else's appointment, which reads as a missing one; "—"
    # even on the caller's own, on the role alone: before the look-up, so a missing id
    # is no 404 either and nothing is learnt from it.
    never = scope == "—"
    appointment_id = await plant(
        world, case, *((PATIENT, DOCTOR) if never else someone_elses(role))
    )
    commits = world.repository.commits

    with pytest.raises(Forbidden if never else NotVisible) as refused:
        await case.call(world.services, asking(role), appointment_id)
    with pytest.raises(Forbidden if never else AppointmentNotFound):
        await case.call(world.services, asking(role), str(uuid.uuid4()))

    assert not never or f"a {role} may not" in str(refused.value)
    assert world.repository.commits == commits
    assert world.sagas.requests == []
    stored = await world.repository.get(appointment_id)
    assert stored is not None
    assert stored.status is case.before


def test_every_use_case_and_role_is_covered() -> None:
    covered = {(case.name, role) for scope in ("any", "own", "—") for case, role in pairs(scope)}
    assert len(covered) == len(USE_CASES) * len(ROLES)


def test_both_doors_answer_someone_elses_and_a_missing_one_alike() -> None:
    # GraphQL: one problem, down to the message (the id sent is not echoed).
    assert problem_of(NotVisible("no such appointment")) is NOT_FOUND
    assert problem_of(AppointmentNotFound("no appointment 7f0c3e9a")) is NOT_FOUND
