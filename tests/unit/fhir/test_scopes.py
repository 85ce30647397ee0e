"""SMART on FHIR v2 scopes on the one permission matrix: one test per row of the table,
how tokens carry them, and that every door (not only FHIR) checks them."""

from __future__ import annotations

import httpx
import jwt
import pytest

from api.security.tokens import InvalidToken, issue_local_token, principal_of
from application.permissions import (
    MATRIX,
    SMART_SCOPE_NEEDS,
    Action,
    Forbidden,
    Principal,
    Role,
    Scope,
    authorize,
    scopes_allow,
    smart_grants,
)
from config import Settings
from domain.model import Appointment

ROLES_THAT_MAY = {
    action: next(r for r in Role if MATRIX[action][r] is Scope.ANY) for action in Action
}


def test_every_action_has_a_row() -> None:
    assert set(SMART_SCOPE_NEEDS) == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_a_row_grants_its_action_and_nothing_less(action: Action) -> None:
    resource, letter = SMART_SCOPE_NEEDS[action]
    role = ROLES_THAT_MAY[action]
    context = "system" if resource == "*" else "user"
    authorize(Principal("u-1", role, frozenset({f"{context}/{resource}.{letter}"})), action)
    authorize(Principal("u-1", role, frozenset({"system/*.cruds"})), action)
    others = "".join(c for c in "cruds" if c != letter)
    for lacking in (f"user/{resource}.{others}", "openid fhirUser", f"user/Other.{letter}"):
        with pytest.raises(Forbidden, match="scopes grant no"):
            authorize(Principal("u-1", role, frozenset(lacking.split())), action)


def test_scopes_never_widen_the_role() -> None:
    patient = Principal("pat-1", Role.PATIENT, frozenset({"system/*.cruds"}))
    with pytest.raises(Forbidden, match="a patient may not"):
        authorize(patient, Action.DELETE)


@pytest.mark.parametrize(
    ("scope", "grants"),
    [
        ("patient/Appointment.rs", ("patient", "Appointment", "rs")),
        ("user/Appointment.cruds", ("user", "Appointment", "cruds")),
        ("patient/Slot.rs", ("patient", "Slot", "rs")),
        ("system/*.cruds", ("system", "*", "cruds")),
        ("patient/Appointment.read", ("patient", "Appointment", "rs")),  # SMART v1
        ("openid", None),
        ("fhirUser", None),
        ("launch/patient", None),
        ("patient/Appointment.sr", None),  # v2 letters come in order
        ("patient/Appointment.rs?status=booked", None),
        ("other/Appointment.rs", None),
    ],
)
def test_scope_syntax(scope: str, grants: tuple[str, str, str] | None) -> None:
    found = smart_grants(scope)
    expected = None if grants is None else (grants[0], grants[1], frozenset(grants[2]))
    assert found == expected


def test_tokens_carry_scopes() -> None:
    base = {"sub": "u-1"}
    staff = principal_of(base | {"role": "staff", "scope": "user/Appointment.rs openid"})
    assert staff.role is Role.STAFF
    assert staff.scopes == frozenset({"user/Appointment.rs", "openid"})
    launched = principal_of(base | {"scope": "patient/Appointment.rs", "patient": "pat-9"})
    assert (launched.role, launched.subject) == (Role.PATIENT, "pat-9")
    assert principal_of(base | {"scope": ["patient/Slot.rs"]}).subject == "u-1"
    # identity scopes only: the role decides as before
    assert principal_of(base | {"role": "doctor", "scope": "openid fhirUser"}).scopes is None
    assert principal_of(base | {"role": "doctor"}).scopes is None
    for bad in ({"scope": "user/Appointment.rs"}, {"scope": 7, "role": "staff"}):
        with pytest.raises(InvalidToken):
            principal_of(base | bad)


def test_scope_check_is_the_matrix() -> None:
    assert scopes_allow(frozenset({"patient/Appointment.rs"}), Action.READ)
    assert not scopes_allow(frozenset({"patient/Appointment.rs"}), Action.CANCEL)


async def test_every_door_checks_scopes(
    client: httpx.AsyncClient, settings: Settings, planted: Appointment
) -> None:
    def token(scope: str) -> dict[str, str]:
        signed = issue_local_token(settings, Role.STAFF, "frontdesk-1", scope=scope)
        return {"Authorization": f"Bearer {signed}"}

    search_only = token("user/Appointment.s")
    rest = await client.get(f"/api/v1/appointments/{planted.id}", headers=search_only)
    assert rest.status_code == 403
    assert rest.headers["content-type"] == "application/problem+json"
    fhir = await client.get(f"/fhir/R4/Appointment/{planted.id}", headers=search_only)
    assert fhir.status_code == 403
    assert fhir.json()["issue"][0]["code"] == "forbidden"
    query = {"query": f'{{ appointment(id: "{planted.id}") {{ id }} }}'}
    graphql = await client.post("/graphql", json=query, headers=search_only)
    assert graphql.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    reader = token("user/Appointment.rs")
    assert (
        await client.get(f"/fhir/R4/Appointment/{planted.id}", headers=reader)
    ).status_code == 200


async def test_a_smart_patient_launch_reads_their_own(
    client: httpx.AsyncClient, settings: Settings, planted: Appointment
) -> None:
    signed = issue_local_token(
        settings, None, "smart-user-1", scope="patient/Appointment.rs", patient=planted.patient_id
    )
    headers = {"Authorization": f"Bearer {signed}"}
    mine = await client.get(f"/fhir/R4/Appointment/{planted.id}", headers=headers)
    assert mine.status_code == 200
    found = await client.get("/fhir/R4/Appointment", headers=headers)
    assert found.json()["total"] == 1
    claims = jwt.decode(signed, options={"verify_signature": False})
    assert "role" not in claims
