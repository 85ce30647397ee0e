"""The permission matrix of the README and how ``authorize`` enforces each scope."""

from __future__ import annotations

from itertools import product

import pytest

from application.permissions import (
    MATRIX,
    Action,
    Forbidden,
    NotVisible,
    Owners,
    Principal,
    Role,
    Scope,
    authorize,
    ensure_may_book_for,
)

# Written out by hand from the README rather than read from ``MATRIX``, so a change to
# the table is a deliberate change to this test too. Columns: admin, staff, doctor, patient.
README_TABLE: dict[str, tuple[str, str, str, str]] = {
    "book": ("any", "any", "—", "own"),
    "read": ("any", "any", "own", "own"),
    "list": ("any", "any", "own", "own"),
    "cancel": ("any", "any", "—", "own"),
    "reschedule": ("any", "any", "—", "own"),
    "confirm": ("any", "any", "—", "own"),
    "check-in": ("any", "any", "own", "—"),
    "complete": ("any", "any", "own", "—"),
    "no-show": ("any", "any", "own", "—"),
    "edit": ("any", "any", "—", "own"),
    "delete": ("any", "—", "—", "—"),
    "maintain": ("any", "—", "—", "—"),
    "schedule": ("any", "any", "own", "—"),
    "free-slots": ("any", "any", "any", "any"),
    "doctor-profiles": ("any", "any", "any", "any"),
    "decode-payloads": ("any", "—", "—", "—"),
    "reverse-no-show": ("any", "any", "—", "—"),
    "join-waitlist": ("any", "any", "—", "own"),
    "read-waitlist": ("any", "any", "own", "own"),
    "leave-waitlist": ("any", "any", "—", "own"),
    "answer-offer": ("any", "any", "—", "own"),
}
COLUMNS = (Role.ADMIN, Role.STAFF, Role.DOCTOR, Role.PATIENT)
CELL = {"any": Scope.ANY, "own": Scope.OWN, "—": Scope.NONE}

EXPECTED: dict[tuple[Action, Role], Scope] = {
    (Action(action), role): CELL[cell]
    for action, cells in README_TABLE.items()
    for role, cell in zip(COLUMNS, cells, strict=True)
}
ALL_CELLS = list(product(Action, Role))


def cells_with(scope: Scope) -> list[tuple[Action, Role]]:
    return [cell for cell in ALL_CELLS if EXPECTED[cell] is scope]


def cell_id(cell: tuple[Action, Role]) -> str:
    action, role = cell
    return f"{role.value}-{action.value}"


def own_appointment(principal: Principal) -> Owners:
    """An appointment the principal owns (admins and staff own none: they have no scope
    that needs ownership)."""
    if principal.role is Role.PATIENT:
        return Owners(patient_id=principal.subject, doctor_id="d-other")
    if principal.role is Role.DOCTOR:
        return Owners(patient_id="p-other", doctor_id=principal.subject)
    return Owners(patient_id="p-other", doctor_id="d-other")


SOMEONE_ELSES = Owners(patient_id="p-other", doctor_id="d-other")


def test_readme_table_names_every_action_and_matrix_every_role() -> None:
    assert set(README_TABLE) == {action.value for action in Action}
    assert set(MATRIX) == set(Action)
    for action in Action:
        assert set(MATRIX[action]) == set(Role), action


@pytest.mark.parametrize("cell", ALL_CELLS, ids=cell_id)
def test_matrix_matches_readme(cell: tuple[Action, Role]) -> None:
    action, role = cell
    assert MATRIX[action][role] is EXPECTED[cell]


@pytest.mark.parametrize("cell", cells_with(Scope.NONE), ids=cell_id)
def test_scope_none_is_forbidden_even_on_own_appointment(cell: tuple[Action, Role]) -> None:
    action, role = cell
    caller = Principal(subject="u-1", role=role)
    for owners in (None, own_appointment(caller), SOMEONE_ELSES):
        with pytest.raises(Forbidden):
            authorize(caller, action, owners)


@pytest.mark.parametrize("cell", cells_with(Scope.OWN), ids=cell_id)
def test_scope_own_passes_on_own_appointment(cell: tuple[Action, Role]) -> None:
    action, role = cell
    caller = Principal(subject="u-1", role=role)
    authorize(caller, action, own_appointment(caller))


@pytest.mark.parametrize("cell", cells_with(Scope.OWN), ids=cell_id)
def test_scope_own_without_an_appointment_passes(cell: tuple[Action, Role]) -> None:
    # Booking and listing name no existing appointment; the caller's filter applies later.
    action, role = cell
    authorize(Principal(subject="u-1", role=role), action)


@pytest.mark.parametrize("cell", cells_with(Scope.OWN), ids=cell_id)
def test_scope_own_on_someone_elses_appointment_is_not_visible(
    cell: tuple[Action, Role],
) -> None:
    action, role = cell
    with pytest.raises(NotVisible):
        authorize(Principal(subject="u-1", role=role), action, SOMEONE_ELSES)


@pytest.mark.parametrize("cell", cells_with(Scope.ANY), ids=cell_id)
def test_scope_any_passes_on_every_appointment(cell: tuple[Action, Role]) -> None:
    action, role = cell
    caller = Principal(subject="u-1", role=role)
    for owners in (None, own_appointment(caller), SOMEONE_ELSES):
        authorize(caller, action, owners)


def test_patient_owns_by_patient_id() -> None:
    patient = Principal(subject="p-1", role=Role.PATIENT)
    authorize(patient, Action.READ, Owners(patient_id="p-1", doctor_id="d-9"))
    with pytest.raises(NotVisible):
        # A patient whose id happens to equal the doctor's is still not the owner.
        authorize(patient, Action.READ, Owners(patient_id="p-2", doctor_id="p-1"))


def test_doctor_owns_by_doctor_id_only() -> None:
    doctor = Principal(subject="x-1", role=Role.DOCTOR)
    authorize(doctor, Action.READ, Owners(patient_id="p-2", doctor_id="x-1"))
    with pytest.raises(NotVisible):
        # The doctor's sub equals the appointment's patient_id: not their appointment.
        authorize(doctor, Action.READ, Owners(patient_id="x-1", doctor_id="d-9"))


def test_patient_may_book_for_themself() -> None:
    ensure_may_book_for(Principal(subject="p-1", role=Role.PATIENT), "p-1")


def test_patient_may_not_book_for_another_patient() -> None:
    with pytest.raises(Forbidden):
        ensure_may_book_for(Principal(subject="p-1", role=Role.PATIENT), "p-2")


@pytest.mark.parametrize("patient_id", ["d-1", "p-2"])
def test_doctor_may_not_book(patient_id: str) -> None:
    with pytest.raises(Forbidden):
        ensure_may_book_for(Principal(subject="d-1", role=Role.DOCTOR), patient_id)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF])
@pytest.mark.parametrize("patient_id", ["p-1", "p-2", "u-1"])
def test_admin_and_staff_may_book_for_anyone(role: Role, patient_id: str) -> None:
    ensure_may_book_for(Principal(subject="u-1", role=role), patient_id)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.ADMIN, "admin:u-1"),
        (Role.STAFF, "staff:u-1"),
        (Role.DOCTOR, "doctor:u-1"),
        (Role.PATIENT, "patient:u-1"),
    ],
)
def test_actor_is_role_colon_subject(role: Role, expected: str) -> None:
    assert Principal(subject="u-1", role=role).actor == expected
