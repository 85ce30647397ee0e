"""Every error leaves with the RFC 9457 fields in ``extensions``, from one mapping; someone
else's appointment reads exactly like a missing one; an unexpected error reveals nothing
and is logged with the request id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger
from pymongo.errors import ServerSelectionTimeoutError
from temporalio.service import RPCError, RPCStatusCode

from api.graphql.errors import problem_of
from api.problems import PROBLEM_BASE, ProblemError
from application import errors as refusals
from application.errors import FieldError, InvalidInput
from application.permissions import Forbidden, NotVisible
from domain import errors
from tests.unit.graphql.conftest import FakeSchedule, MakeContext, Row, execute

ONE = "query ($id: ID!) { appointment(id: $id) { id patientName } }"
ROW = Row()
MISSING = "0b8e7a52-2a5e-4a3c-9d1e-6f3b0e1f2a33"


UNAVAILABLE = (503, "SERVICE_UNAVAILABLE", "service-unavailable")
# error -> (status, code, problem type), as REST's api/problems.py answers them
KNOWN: list[tuple[Exception, tuple[int, str, str]]] = [
    (errors.SlotUnavailable("taken"), (409, "CONFLICT", "slot-unavailable")),
    (errors.IllegalTransition("CANCELLED", "CONFIRMED"), (409, "CONFLICT", "illegal-transition")),
    (errors.PatientNotFound("who?"), (422, "BAD_USER_INPUT", "patient-not-found")),
    (errors.BillingRefused("no"), (402, "PAYMENT_REQUIRED", "billing-refused")),
    (errors.AppointmentNotFound("no x"), (404, "NOT_FOUND", "appointment-not-found")),
    (NotVisible("hidden"), (404, "NOT_FOUND", "appointment-not-found")),
    (Forbidden("a patient may not"), (403, "FORBIDDEN", "forbidden")),
    (ProblemError(401, "unauthorized", "Authentication required", "no token"),
     (401, "UNAUTHENTICATED", "unauthorized")),
    (refusals.InvalidIdempotencyKey("use"), (400, "BAD_REQUEST", "invalid-idempotency-key")),
    (refusals.IdempotencyKeyReused(), (422, "BAD_USER_INPUT", "idempotency-key-reused")),
    (refusals.UnknownDoctor("no"), (404, "NOT_FOUND", "doctor-not-found")),
    (refusals.SagaCancelled("booking"), (409, "CONFLICT", "booking-cancelled")),
    (refusals.SagaFailed("booking"), (503, "SERVICE_UNAVAILABLE", "booking-failed")),
    (InvalidInput([FieldError(field="input.start", message="bad")]), (422, "BAD_USER_INPUT",
     "validation-error")),
    (errors.PeerUnavailable("doctor", "timeout"), UNAVAILABLE),
    (RPCError("down", RPCStatusCode.UNAVAILABLE, b""), UNAVAILABLE),
    (ServerSelectionTimeoutError("no primary"), UNAVAILABLE),
]  # fmt: skip


@pytest.mark.parametrize(("error", "expected"), KNOWN, ids=[type(e).__name__ for e, _ in KNOWN])
def test_one_mapping_for_every_known_error(
    error: Exception, expected: tuple[int, str, str]
) -> None:
    status, code, slug = expected
    problem = problem_of(error)
    assert problem is not None
    extensions = problem.extensions("req-1")
    assert extensions["status"] == status
    assert extensions["code"] == code
    assert extensions["type"] == PROBLEM_BASE + slug
    assert extensions["title"]
    assert extensions["requestId"] == "req-1"


def test_an_unknown_error_has_no_problem() -> None:
    assert problem_of(RuntimeError("boom")) is None
    assert problem_of(KeyError("x")) is None


def test_field_errors_are_listed() -> None:
    problem = problem_of(InvalidInput([FieldError(field="input.start", message="bad")]))
    assert problem is not None
    assert problem.extensions(None)["errors"] == [{"field": "input.start", "message": "bad"}]


async def test_someone_elses_appointment_reads_exactly_like_a_missing_one(
    make_context: MakeContext,
) -> None:
    other = make_context("patient", "pat-david-kim", FakeSchedule(rows=[ROW]))
    hidden = await execute(other, ONE, {"id": ROW.id})
    missing = await execute(other, ONE, {"id": MISSING})

    assert hidden.data == missing.data == {"appointment": None}
    assert [e.formatted for e in hidden.errors] == [e.formatted for e in missing.errors]
    [error] = hidden.errors
    assert error.extensions["code"] == "NOT_FOUND"
    assert ROW.patient_id not in str(error.formatted)
    assert ROW.id not in str(error.formatted)


async def test_an_id_that_is_no_uuid_is_bad_input_as_on_rest(make_context: MakeContext) -> None:
    schedule = FakeSchedule(rows=[ROW])
    result = await execute(make_context(schedule=schedule), ONE, {"id": "not-even-a-uuid"})
    [error] = result.errors
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert error.extensions["errors"][0]["field"] == "id"
    assert schedule.calls == []


async def test_the_owner_reads_it(make_context: MakeContext) -> None:
    owner = make_context("patient", ROW.patient_id, FakeSchedule(rows=[ROW]))
    result = await execute(owner, ONE, {"id": ROW.id})
    assert result.errors is None
    assert result.data == {"appointment": {"id": ROW.id, "patientName": "Anna Schmidt"}}


@pytest.fixture
def logged() -> Iterator[list[Any]]:
    records: list[Any] = []
    sink = logger.add(lambda message: records.append(message.record), level="WARNING")
    yield records
    logger.remove(sink)


async def test_an_unexpected_error_reveals_nothing_and_is_logged_with_the_request_id(
    make_context: MakeContext, logged: list[Any]
) -> None:
    secret = RuntimeError("mongodb://admin:hunter2@db/appointments exploded")
    result = await execute(make_context(schedule=FakeSchedule(fail=secret)), ONE, {"id": ROW.id})

    assert result.data == {"appointment": None}
    [error] = result.errors
    assert error.extensions["code"] == "INTERNAL"
    assert error.extensions["status"] == 500
    assert error.extensions["requestId"] == "req-unit-1"
    assert "hunter2" not in str(error.formatted)
    assert "Traceback" not in str(error.formatted)
    assert error.original_error is None
    assert set(error.formatted) == {"message", "locations", "path", "extensions"}
    [record] = logged
    assert record["level"].name == "ERROR"
    assert record["extra"]["request_id"] == "req-unit-1"
    assert record["exception"] is not None  # the traceback stays in our logs


async def test_infrastructure_down_is_503_and_a_warning(
    make_context: MakeContext, logged: list[Any]
) -> None:
    down = ServerSelectionTimeoutError("10.0.0.7:27017 timed out")
    result = await execute(make_context(schedule=FakeSchedule(fail=down)), ONE, {"id": ROW.id})

    [error] = result.errors
    assert error.extensions["code"] == "SERVICE_UNAVAILABLE"
    assert "10.0.0.7" not in str(error.formatted)
    assert [r["level"].name for r in logged] == ["WARNING"]


async def test_a_refusal_is_not_logged_as_an_error(
    make_context: MakeContext, logged: list[Any]
) -> None:
    result = await execute(
        make_context("patient", "pat-david-kim"),
        '{ doctorSchedule(doctorId: "doc-on-call", from: "2030-01-07T00:00:00Z", '
        'to: "2030-01-08T00:00:00Z") { id } }',
    )
    [error] = result.errors
    assert error.extensions["code"] == "FORBIDDEN"
    assert logged == []


async def test_one_refused_field_leaves_the_others_answering(make_context: MakeContext) -> None:
    doctor = make_context("doctor", "doc-amelia-hart")
    result = await execute(
        doctor,
        """{ mine: freeSlots(doctorId: "doc-amelia-hart", day: "2030-01-07") { start }
             theirs: doctorSchedule(doctorId: "doc-on-call", from: "2030-01-07T00:00:00Z",
                                    to: "2030-01-08T00:00:00Z") { id } }""",
    )
    assert result.data["mine"] == [{"start": "2030-01-07T08:00:00+00:00"}]
    assert result.data["theirs"] is None
    [error] = result.errors
    assert error.path == ["theirs"]
    assert error.extensions["code"] == "FORBIDDEN"


async def test_a_schedule_window_refusal_is_bad_user_input(make_context: MakeContext) -> None:
    refusal = errors.InvalidScheduleWindow("from must be before to")
    result = await execute(make_context(schedule=FakeSchedule(fail=refusal)), ONE, {"id": ROW.id})
    [error] = result.errors
    assert error.message == "from must be before to"
    assert error.extensions["type"].endswith("/invalid-schedule-window")
    assert error.extensions["status"] == 422
