"""GraphQL at /graphql on the real local stack, over HTTP: the mutations run the real
sagas (their runs are in Temporal, REST reads back the same appointment); the queries
answer what the read view holds (polled: the view is eventually consistent); who may do
what, field by field; the limits; bad input refused with nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from domain.status import AppointmentStatus
from localstack.service import LocalService
from tests.e2e.conftest import Slots, counts, describe_workflow, log_lines
from tests.e2e.test_lifecycle import plant_one, snapshot
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

OWNER_PATIENT, OTHER_PATIENT = "pat-greta-lindqvist", "pat-hugo-moreau"
OWNER_DOCTOR, OTHER_DOCTOR = "doc-on-call", "doc-amelia-hart"

OUTCOME = """appointmentId pending workflowId step
  appointment { id patientId doctorId start end durationMinutes timezone status fhirStatus
    reason notes invoiceId holdId bookingWorkflowId cancellationFreeHours
    cancellationFeeCents version createdAt updatedAt }"""
BOOK = f"""mutation ($input: BookAppointmentInput!, $key: String!) {{
  bookAppointment(input: $input, idempotencyKey: $key) {{ {OUTCOME} }} }}"""
CANCEL = f"""mutation ($id: ID!, $key: String!) {{
  cancelAppointment(id: $id, idempotencyKey: $key, reason: "feeling better") {{ {OUTCOME} }} }}"""
RESCHEDULE = f"""mutation ($id: ID!, $start: DateTime!, $key: String!) {{
  rescheduleAppointment(id: $id, input: {{start: $start}}, idempotencyKey: $key) {{ {OUTCOME} }}
}}"""
ENTRY = """id patientId patientName doctorId doctorName doctorSpecialty day start end
  durationMinutes timezone status reason updatedAt"""
ONE = f"query ($id: ID!) {{ appointment(id: $id) {{ {ENTRY} }} }}"
SCHEDULE = """query ($doctor: ID!, $from: DateTime!, $to: DateTime!,
                    $statuses: [AppointmentStatus!]) {
  doctorSchedule(doctorId: $doctor, from: $from, to: $to, statuses: $statuses) { id status } }"""
PATIENT = """query ($patient: ID!, $from: DateTime!, $to: DateTime!) {
  patientAppointments(patientId: $patient, from: $from, to: $to) { id doctorId } }"""
FREE = "query ($doctor: ID!, $day: Date!) { freeSlots(doctorId: $doctor, day: $day) { start end } }"


def post(
    client: httpx.Client, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    answer = post(client, query, **variables)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return dict(answer.json())


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    [error] = answer["errors"]
    assert "Traceback" not in str(error)
    return dict(error)


def booking(start: str, patient: str = OWNER_PATIENT, **more: Any) -> dict[str, Any]:
    return {
        "patientId": patient,
        "doctorId": OWNER_DOCTOR,
        "start": start,
        "durationMinutes": 15,
    } | more


INSTANTS = ("start", "end", "created_at", "updated_at")


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def as_rest(appointment: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Appointment in REST's spelling, instants as datetimes."""
    return {
        snake(k): datetime.fromisoformat(v) if snake(k) in INSTANTS else v
        for k, v in appointment.items()
    }


def rest_read(api: httpx.Client, appointment_id: str) -> dict[str, Any]:
    answer = api.get(f"/api/v1/appointments/{appointment_id}")
    assert answer.status_code == 200, answer.text
    return {k: datetime.fromisoformat(v) if k in INSTANTS else v for k, v in answer.json().items()}


def window(start: str) -> dict[str, str]:
    at = datetime.fromisoformat(start)
    return {
        "from": (at - timedelta(hours=1)).isoformat(),
        "to": (at + timedelta(hours=1)).isoformat(),
    }


def rest_book(api: httpx.Client, start: str, patient: str = OWNER_PATIENT) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/appointments",
        json={
            "patient_id": patient,
            "doctor_id": OWNER_DOCTOR,
            "start": start,
            "duration_minutes": 15,
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


# --- the mutations: the real sagas, the stored appointment ------------------------------


def test_book_runs_the_booking_saga_and_answers_the_stored_appointment(
    api: httpx.Client, service: LocalService, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    key = str(uuid.uuid4())
    answer = post(api, BOOK, input=booking(slots.next(), reason="Persistent cough"), key=key)

    assert answer.status_code == 200, answer.text
    outcome = answer.json()["data"]["bookAppointment"]
    assert (outcome["pending"], outcome["workflowId"], outcome["step"]) == (False, None, None)
    booked = outcome["appointment"]
    assert (booked["status"], booked["fhirStatus"], booked["version"]) == ("SCHEDULED", "booked", 2)
    assert booked["bookingWorkflowId"] == f"booking-{key}"
    assert outcome["appointmentId"] == booked["id"]
    run = describe_workflow(service, f"booking-{key}")
    assert (run.workflow_type, run.status.name) == ("BookingWorkflow", "COMPLETED")
    # REST reads back exactly the appointment the mutation answered.
    assert rest_read(api, booked["id"]) == as_rest(booked)
    # The request id goes from the GraphQL request into the saga's events and the log.
    request_id = answer.headers["X-Request-ID"]
    events = list(mongo["appointment_events"].find({"appointment_id": booked["id"]}).sort("seq"))
    assert [e["type"] for e in events] == ["appointment.requested", "appointment.scheduled"]
    assert events[0]["request_id"] == request_id
    assert events[0]["actor"] == "staff:frontdesk-test"
    [line] = log_lines(service, "api", request_id)
    assert (line["route"], line["status"], line["role"]) == ("/graphql", 200, "staff")


def test_one_idempotency_key_is_one_booking_over_graphql_and_rest(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    key, start = str(uuid.uuid4()), slots.next()
    first = gql(api, BOOK, input=booking(start), key=key)["data"]["bookAppointment"]
    again = gql(api, BOOK, input=booking(start), key=key)["data"]["bookAppointment"]
    body = {
        "patient_id": OWNER_PATIENT,
        "doctor_id": OWNER_DOCTOR,
        "start": start,
        "duration_minutes": 15,
    }
    rest = api.post("/api/v1/appointments", json=body, headers={"Idempotency-Key": key})

    assert first["appointmentId"] == again["appointmentId"] == rest.json()["id"]
    assert mongo["appointments"].count_documents({"booking_workflow_id": f"booking-{key}"}) == 1
    reused = error_of(gql(api, BOOK, input=booking(slots.next()), key=key))
    assert reused["extensions"]["code"] == "BAD_USER_INPUT"
    assert reused["extensions"]["type"].endswith("/idempotency-key-reused")


def test_past_the_wait_budget_a_booking_answers_pending_like_rest_202(
    api: httpx.Client, slots: Slots
) -> None:
    key = str(uuid.uuid4())
    answer = post(
        api, BOOK, headers={"Prefer": "respond-async"}, input=booking(slots.next()), key=key
    )

    outcome = answer.json()["data"]["bookAppointment"]
    assert (outcome["pending"], outcome["appointment"]) == (True, None)
    assert outcome["workflowId"] == f"booking-{key}"
    # The saga goes on; the appointment turns up SCHEDULED under the id answered.
    read = lambda: api.get(f"/api/v1/appointments/{outcome['appointmentId']}").json()  # noqa: E731
    eventually(lambda: read().get("status") == "SCHEDULED", what="the booking finishes")


def test_cancel_runs_the_cancellation_saga(
    api: httpx.Client, service: LocalService, peers: dict[str, httpx.Client], slots: Slots
) -> None:
    booked, key = rest_book(api, slots.next()), str(uuid.uuid4())
    outcome = gql(api, CANCEL, id=booked["id"], key=key)["data"]["cancelAppointment"]

    cancelled = outcome["appointment"]
    assert (outcome["pending"], cancelled["status"], cancelled["fhirStatus"]) == (
        False,
        "CANCELLED",
        "cancelled",
    )
    assert describe_workflow(service, f"cancellation-{key}").status.name == "COMPLETED"
    assert rest_read(api, booked["id"]) == as_rest(cancelled)
    assert peers["billing"].get(f"/invoices/{booked['invoice_id']}").json()["status"] == "VOID"


def test_reschedule_runs_the_reschedule_saga(
    api: httpx.Client, service: LocalService, slots: Slots
) -> None:
    booked, key, new_start = rest_book(api, slots.next()), str(uuid.uuid4()), slots.next()
    outcome = gql(api, RESCHEDULE, id=booked["id"], start=new_start, key=key)["data"][
        "rescheduleAppointment"
    ]

    moved = outcome["appointment"]
    assert (moved["id"], moved["status"]) == (booked["id"], "SCHEDULED")
    assert datetime.fromisoformat(moved["start"]) == datetime.fromisoformat(new_start)
    assert describe_workflow(service, f"reschedule-{key}").status.name == "COMPLETED"
    assert rest_read(api, booked["id"]) == as_rest(moved)


def test_a_refused_saga_answers_its_problem(
    api: httpx.Client, peers: dict[str, httpx.Client], slots: Slots
) -> None:
    taken = slots.next()
    rest_book(api, taken)
    conflict = gql(api, BOOK, input=booking(taken, patient=OTHER_PATIENT), key=str(uuid.uuid4()))
    assert conflict["data"] == {"bookAppointment": None}
    assert error_of(conflict)["extensions"]["type"].endswith("/slot-unavailable")
    assert error_of(conflict)["extensions"]["code"] == "CONFLICT"

    peers["billing"].put("/_sim/faults", json={"mode": "refuse"}).raise_for_status()
    refused = error_of(gql(api, BOOK, input=booking(slots.next()), key=str(uuid.uuid4())))
    assert (refused["extensions"]["status"], refused["extensions"]["code"]) == (
        402,
        "PAYMENT_REQUIRED",
    )
    assert refused["extensions"]["type"].endswith("/billing-refused")
    assert refused["path"] == ["bookAppointment"]


# --- the queries: what the read view holds ----------------------------------------------


def test_the_queries_answer_what_the_read_view_holds(
    api: httpx.Client, mongo: Database[dict[str, Any]], slots: Slots
) -> None:
    start = slots.next()
    booked = gql(api, BOOK, input=booking(start), key=str(uuid.uuid4()))["data"]["bookAppointment"]
    appointment_id = booked["appointmentId"]

    def settled() -> dict[str, Any] | None:  # the view sees PENDING before SCHEDULED
        found = gql(api, ONE, id=appointment_id)["data"]["appointment"]
        return found if found and found["status"] == "SCHEDULED" else None

    entry = eventually(settled, what="the scheduled view row")

    row = mongo["appointment_read_view"].find_one({"_id": appointment_id})
    assert row is not None
    assert {
        snake(k): v for k, v in entry.items() if k not in ("start", "end", "updatedAt", "id")
    } == {k: row[k] for k in map(snake, entry) if k not in ("start", "end", "updated_at", "id")}
    assert datetime.fromisoformat(entry["start"]) == row["start"] == datetime.fromisoformat(start)
    assert entry["doctorName"]
    assert entry["patientName"]

    scheduled = gql(api, SCHEDULE, doctor=OWNER_DOCTOR, statuses=["SCHEDULED"], **window(start))
    assert {"id": appointment_id, "status": "SCHEDULED"} in scheduled["data"]["doctorSchedule"]
    mine = gql(api, PATIENT, patient=OWNER_PATIENT, **window(start))["data"]["patientAppointments"]
    assert {"id": appointment_id, "doctorId": OWNER_DOCTOR} in mine

    def free() -> set[datetime]:
        slots_now = gql(api, FREE, doctor=OWNER_DOCTOR, day=entry["day"])["data"]["freeSlots"]
        return {datetime.fromisoformat(s["start"]) for s in slots_now}

    assert datetime.fromisoformat(start) not in free()
    rest = api.get(
        f"/api/v1/doctors/{OWNER_DOCTOR}/free-slots", params={"day": entry["day"]}
    ).json()
    assert {datetime.fromisoformat(s["start"]) for s in rest["slots"]} == free()

    gql(api, CANCEL, id=appointment_id, key=str(uuid.uuid4()))
    eventually(lambda: datetime.fromisoformat(start) in free(), what="the slot is free again")
    cancelled = gql(api, SCHEDULE, doctor=OWNER_DOCTOR, statuses=["CANCELLED"], **window(start))
    assert {"id": appointment_id, "status": "CANCELLED"} in cancelled["data"]["doctorSchedule"]


# --- who may do what: every field x role x own / someone else's ---------------------------

CALLERS: list[tuple[str, str]] = [
    ("admin", "admin-1"),
    ("staff", "frontdesk-1"),
    ("doctor", OWNER_DOCTOR),
    ("doctor", OTHER_DOCTOR),
    ("patient", OWNER_PATIENT),
    ("patient", OTHER_PATIENT),
]
# field: what each of CALLERS (in order) gets, about OWNER_PATIENT's appointment with
# OWNER_DOCTOR. seen: answered, the appointment in it; unseen: answered, it is not;
# FORBIDDEN: the role may not (null + error); NOT_FOUND: reads like a missing one.
QUERIES: dict[str, tuple[str, ...]] = {
    #                  admin   staff   own-doc other-doc    own-pat  other-pat
    "doctorSchedule": ("seen", "seen", "seen", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"),
    "patientAppointments": ("seen", "seen", "seen", "unseen", "seen", "FORBIDDEN"),
    "appointment": ("seen", "seen", "seen", "NOT_FOUND", "seen", "NOT_FOUND"),
    "freeSlots": ("unseen", "unseen", "unseen", "unseen", "unseen", "unseen"),
}
MUTATIONS: dict[str, tuple[str, ...]] = {
    "bookAppointment": ("ok", "ok", "FORBIDDEN", "FORBIDDEN", "ok", "FORBIDDEN"),
    "cancelAppointment": ("ok", "ok", "FORBIDDEN", "FORBIDDEN", "ok", "NOT_FOUND"),
    "rescheduleAppointment": ("ok", "ok", "FORBIDDEN", "FORBIDDEN", "ok", "NOT_FOUND"),
}


def cases(table: dict[str, tuple[str, ...]]) -> list[Any]:
    return [
        pytest.param(name, role, subject, row[i], id=f"{name}-{role}-{subject}")
        for name, row in table.items()
        for i, (role, subject) in enumerate(CALLERS)
    ]


@pytest.fixture(scope="module")
def as_role(service: LocalService) -> Iterator[Callable[[str, str], httpx.Client]]:
    made: list[httpx.Client] = []

    def client(role: str, subject: str) -> httpx.Client:
        token = service.token(role, subject)
        made.append(
            httpx.Client(
                base_url=service.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
            )
        )
        return made[-1]

    yield client
    for one in made:
        one.close()


@pytest.fixture(scope="module")
def in_view(api: httpx.Client, slots: Slots) -> dict[str, Any]:
    """OWNER_PATIENT's appointment with OWNER_DOCTOR, once the read view has it."""
    booked = rest_book(api, slots.next())
    eventually(
        lambda: (
            (gql(api, ONE, id=booked["id"])["data"]["appointment"] or {}).get("status")
            == "SCHEDULED"
        ),
        what="the scheduled view row",
    )
    return booked


def ask(
    client: httpx.Client, field: str, booked: dict[str, Any], appointment_id: str
) -> dict[str, Any]:
    day = datetime.fromisoformat(booked["start"]).date().isoformat()
    query, variables = {
        "doctorSchedule": (SCHEDULE, {"doctor": OWNER_DOCTOR, **window(booked["start"])}),
        "patientAppointments": (PATIENT, {"patient": OWNER_PATIENT, **window(booked["start"])}),
        "appointment": (ONE, {"id": appointment_id}),
        "freeSlots": (FREE, {"doctor": OWNER_DOCTOR, "day": day}),
    }[field]
    return gql(client, query, **variables)


@pytest.mark.parametrize(("field", "role", "subject", "expected"), cases(QUERIES))
def test_every_query_field(
    field: str, role: str, subject: str, expected: str, as_role: Any, in_view: dict[str, Any]
) -> None:
    client = as_role(role, subject)
    answer = ask(client, field, in_view, in_view["id"])
    if expected in ("seen", "unseen"):
        assert "errors" not in answer, answer
        found = answer["data"][field]
        ids = {found["id"]} if isinstance(found, dict) else {e.get("id") for e in found}
        assert (in_view["id"] in ids) is (expected == "seen")
        return
    assert answer["data"] == {field: None}
    error = error_of(answer)
    assert error["extensions"]["code"] == expected
    if expected == "NOT_FOUND":  # exactly like an appointment that does not exist
        missing = error_of(ask(client, field, in_view, str(uuid.uuid4())))
        assert {k: v for k, v in error.items() if k != "extensions"} == {
            k: v for k, v in missing.items() if k != "extensions"
        }
        assert {k: v for k, v in error["extensions"].items() if k != "requestId"} == {
            k: v for k, v in missing["extensions"].items() if k != "requestId"
        }
        assert OWNER_PATIENT not in str(error)
        assert in_view["id"] not in str(error)


@pytest.mark.parametrize(("field", "role", "subject", "expected"), cases(MUTATIONS))
def test_every_mutation(
    field: str,
    role: str,
    subject: str,
    expected: str,
    as_role: Any,
    service: LocalService,
    mongo: Database[dict[str, Any]],
    slots: Slots,
) -> None:
    key = str(uuid.uuid4())
    if field == "bookAppointment":
        before = counts(mongo)
        answer = gql(as_role(role, subject), BOOK, input=booking(slots.next()), key=key)
    else:
        # A planted appointment has no hold or invoice: the sagas skip those peers' steps.
        appointment_id = plant_one(
            service, AppointmentStatus.SCHEDULED, patient=OWNER_PATIENT, doctor=OWNER_DOCTOR
        )
        before = snapshot(mongo, appointment_id)
        query, extra = (
            (CANCEL, {}) if field == "cancelAppointment" else (RESCHEDULE, {"start": slots.next()})
        )
        answer = gql(as_role(role, subject), query, id=appointment_id, key=key, **extra)
    if expected == "ok":
        outcome = answer["data"][field]
        assert outcome["appointment"]["patientId"] == OWNER_PATIENT, answer
        return
    assert answer["data"] == {field: None}
    assert error_of(answer)["extensions"]["code"] == expected
    assert (
        counts(mongo) if field == "bookAppointment" else snapshot(mongo, appointment_id)
    ) == before


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"]
)
def test_without_a_valid_token_graphql_answers_401(
    anonymous: httpx.Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = post(anonymous, ONE, headers=headers, id=str(uuid.uuid4()))
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_graphiql_loads_without_a_token(anonymous: httpx.Client) -> None:
    page = anonymous.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


# --- limits and bad input: refused before anything runs, nothing written ------------------


def test_a_query_deeper_than_the_limit_is_refused(api: httpx.Client, service: LocalService) -> None:
    depth = service.settings.graphql_max_depth + 2
    inner = "id"
    for _ in range(depth - 2):
        inner = f"id {{ {inner} }}"
    answer = post(api, f'{{ appointment(id: "{uuid.uuid4()}") {{ {inner} }} }}').json()

    assert answer.get("data") is None
    deep = [e for e in answer["errors"] if e["extensions"]["type"].endswith("/query-too-deep")]
    assert len(deep) == 1
    assert (
        f"exceeds maximum operation depth of {service.settings.graphql_max_depth}"
        in deep[0]["message"]
    )


def test_more_aliases_than_the_limit_are_refused_and_nothing_runs(
    api: httpx.Client, service: LocalService, mongo: Database[dict[str, Any]]
) -> None:
    appointment_id = plant_one(service, AppointmentStatus.SCHEDULED, patient=OWNER_PATIENT)
    before = snapshot(mongo, appointment_id)
    count = service.settings.graphql_max_aliases + 1
    fields = " ".join(
        f'c{i}: cancelAppointment(id: "{appointment_id}", idempotencyKey: "{uuid.uuid4()}") '
        "{ pending }"
        for i in range(count)
    )
    answer = gql(api, f"mutation {{ {fields} }}")

    assert answer.get("data") is None
    error = error_of(answer)
    assert error["extensions"]["type"].endswith("/too-many-aliases")
    assert (
        error["message"]
        == f"{count} aliases found. Allowed: {service.settings.graphql_max_aliases}"
    )
    assert snapshot(mongo, appointment_id) == before


BAD_BOOKINGS: list[Any] = [
    pytest.param(
        BOOK,
        {"input": "naive start", "key": "fresh"},
        "BAD_USER_INPUT",
        "offset",
        id="naive-variable",
    ),
    pytest.param(
        'mutation { bookAppointment(input: {patientId: "pat-greta-lindqvist", '
        'doctorId: "doc-on-call", start: "2030-01-07T09:00:00", durationMinutes: 15}, '
        'idempotencyKey: "k-literal") { pending } }',
        {},
        "GRAPHQL_VALIDATION_FAILED",
        "offset",
        id="naive-literal",
    ),
    pytest.param(
        "mutation ($input: BookAppointmentInput!) { bookAppointment(input: $input) { pending } }",
        {"input": "valid"},
        "GRAPHQL_VALIDATION_FAILED",
        "idempotencyKey",
        id="no-idempotency-key",
    ),
    pytest.param(
        BOOK, {"input": "valid", "key": "has spaces"}, "BAD_REQUEST", "1-128", id="bad-key"
    ),
    pytest.param(
        BOOK,
        {"input": "duration 4", "key": "fresh"},
        "BAD_USER_INPUT",
        "input.durationMinutes",
        id="duration",
    ),
    pytest.param(
        BOOK,
        {"input": "unknown field", "key": "fresh"},
        "BAD_USER_INPUT",
        "notes",
        id="unknown-field",
    ),
    pytest.param(
        SCHEDULE,
        {
            "doctor": OWNER_DOCTOR,
            "from": "2030-01-07T00:00:00Z",
            "to": "2030-01-08T00:00:00Z",
            "statuses": ["BOOKED"],
        },
        "BAD_USER_INPUT",
        "BOOKED",
        id="unknown-enum",
    ),
    pytest.param(
        SCHEDULE,
        {"doctor": OWNER_DOCTOR, "from": "2030-01-08T00:00:00Z", "to": "2030-01-07T00:00:00Z"},
        "BAD_USER_INPUT",
        "before",
        id="window-backwards",
    ),
]


@pytest.mark.parametrize(("query", "variables", "code", "says"), BAD_BOOKINGS)
def test_bad_input_is_refused_and_nothing_is_written(
    api: httpx.Client,
    mongo: Database[dict[str, Any]],
    slots: Slots,
    query: str,
    variables: dict[str, Any],
    code: str,
    says: str,
) -> None:
    start = slots.next()
    inputs = {
        "naive start": booking(datetime.fromisoformat(start).replace(tzinfo=None).isoformat()),
        "valid": booking(start),
        "duration 4": booking(start, durationMinutes=4),
        "unknown field": booking(start, notes="not a booking field"),
    }
    if "input" in variables:
        variables = variables | {"input": inputs[variables["input"]]}
    if variables.get("key") == "fresh":
        variables = variables | {"key": str(uuid.uuid4())}
    before = counts(mongo)
    answer = gql(api, query, **variables)

    error = error_of(answer)
    assert error["extensions"]["code"] == code, error
    assert says in error["message"]
    assert counts(mongo) == before
