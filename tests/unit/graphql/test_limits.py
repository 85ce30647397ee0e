"""Depth, aliases and tokens are limited before anything runs, by the sizes in the
settings of the app that serves the request (here max depth 4, max aliases 3); so are
what an operation makes the service do: one saga-starting mutation, and a bounded number
of fields that call a peer service."""

from __future__ import annotations

import dataclasses

import pytest
from graphql import get_introspection_query

from api.graphql.limits import MAX_TOKENS, SAGA_MUTATIONS, Limits
from api.graphql.schema import schema
from config import load_settings
from tests.unit.graphql.conftest import FakeSchedule, MakeContext, execute

WINDOW = 'from: "2030-01-07T00:00:00Z", to: "2030-01-08T00:00:00Z"'


def aliased(count: int) -> str:
    fields = " ".join(
        f'a{i}: freeSlots(doctorId: "doc-{i}", day: "2030-01-07") {{ start }}' for i in range(count)
    )
    return "{ " + fields + " }"


def nested(depth: int) -> str:
    """A selection ``depth`` fields deep (``depth`` >= 2)."""
    inner = "x"
    for _ in range(depth - 2):
        inner = f"x {{ {inner} }}"
    return f'{{ doctorSchedule(doctorId: "doc-on-call", {WINDOW}) {{ {inner} }} }}'


@pytest.mark.parametrize(
    ("query", "problem", "message"),
    [
        (nested(6), "query-too-deep", "exceeds maximum operation depth of 4"),
        (aliased(4), "too-many-aliases", "4 aliases found. Allowed: 3"),
    ],
    ids=["too deep", "too many aliases"],
)
async def test_an_operation_over_a_limit_is_refused_and_nothing_runs(
    make_context: MakeContext, query: str, problem: str, message: str
) -> None:
    schedule = FakeSchedule()
    result = await execute(make_context(schedule=schedule), query)

    assert result.data is None
    [error] = [e for e in result.errors if e.extensions["type"].endswith(f"/{problem}")]
    assert message in error.message
    assert (error.extensions["code"], error.extensions["status"]) == (
        "GRAPHQL_VALIDATION_FAILED",
        400,
    )
    assert schedule.calls == []


async def test_within_the_limits_an_operation_runs(make_context: MakeContext) -> None:
    result = await execute(make_context(), aliased(3))
    assert result.errors is None
    assert set(result.data) == {"a0", "a1", "a2"}


async def test_a_document_over_the_token_limit_is_not_even_parsed(
    make_context: MakeContext,
) -> None:
    padding = " ".join(["__typename"] * MAX_TOKENS)
    result = await execute(make_context(), "{ " + padding + " }")

    [error] = result.errors
    assert f"Document contains more than {MAX_TOKENS} tokens" in error.message
    assert error.extensions["type"].endswith("/too-many-tokens")
    assert error.extensions["code"] == "GRAPHQL_PARSE_FAILED"


async def test_graphiql_introspection_passes_whatever_the_depth_limit(
    make_context: MakeContext,
) -> None:
    # Introspection stays on (our own staff's tool); its deep query must not be refused.
    query = get_introspection_query(descriptions=True, specified_by_url=True)
    result = await execute(make_context(), query)
    assert result.errors is None
    assert result.data["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(("max_aliases", "refused"), [(3, True), (4, False)])
async def test_the_limits_come_from_the_settings(
    make_context: MakeContext, max_aliases: int, refused: bool
) -> None:
    context = make_context()
    context.limits = type(context.limits).of(
        load_settings(graphql_max_depth=8, graphql_max_aliases=max_aliases)
    )
    result = await execute(context, aliased(4))
    assert (result.errors is not None) is refused


async def test_batching_is_off() -> None:
    assert schema.config.batching_config is None


# --- what a document makes the service do: sagas and peer calls --------------------------

BOOK = (
    'bookAppointment(idempotencyKey: "k-{n}", input: {{patientId: "pat-anna-schmidt", '
    'doctorId: "doc-on-call", start: "2030-01-07T09:00:00+01:00", durationMinutes: 15}}) '
    "{{ appointmentId }}"
)
CANCEL = 'cancelAppointment(id: "{id}", idempotencyKey: "k-{n}") {{ appointmentId }}'
RESCHEDULE = (
    'rescheduleAppointment(id: "{id}", idempotencyKey: "k-{n}", '
    'input: {{start: "2030-01-07T10:00:00+01:00"}}) {{ appointmentId }}'
)
SOME_ID = "7f0c3e9a-3f6e-4c65-9a59-5b8d1d0c1a11"


def saga(template: str, n: int, alias: str = "") -> str:
    return alias + template.format(n=n, id=SOME_ID)


@pytest.mark.parametrize(
    "document",
    [
        "mutation { " + saga(BOOK, 1, "a: ") + " " + saga(BOOK, 2, "b: ") + " }",
        "mutation { " + saga(BOOK, 1) + " " + saga(CANCEL, 2) + " }",
        "mutation { " + saga(CANCEL, 1) + " " + saga(RESCHEDULE, 2) + " }",
        # through a fragment spread twice, and an inline fragment
        "mutation { ...B ...B } fragment B on Mutation { " + saga(BOOK, 1) + " }",
        "mutation { ... on Mutation { " + saga(CANCEL, 1) + " } " + saga(BOOK, 2) + " }",
    ],
    ids=["two bookings", "a booking and a cancellation", "a cancellation and a reschedule",
         "one fragment spread twice", "an inline fragment"],
)  # fmt: skip
async def test_one_saga_starting_mutation_per_operation(
    make_context: MakeContext, document: str
) -> None:
    context = make_context()
    result = await execute(context, document)

    assert result.data is None
    [error] = result.errors
    assert error.message == "2 saga-starting mutations found. Allowed: 1"
    assert error.extensions["type"].endswith("/too-many-sagas")
    assert (error.extensions["code"], error.extensions["status"]) == (
        "GRAPHQL_VALIDATION_FAILED",
        400,
    )


async def test_only_the_operation_that_runs_is_counted(make_context: MakeContext) -> None:
    # GraphiQL sends its whole editor and names the operation to run.
    document = (
        "mutation First { " + saga(CANCEL, 1) + " } mutation Second { " + saga(CANCEL, 2) + " }"
    )
    result = await schema.execute(document, context_value=make_context(), operation_name="Second")
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions is not None
    assert "saga-starting" not in error.message  # the one cancellation ran (and found nothing)
    assert error.extensions["type"].endswith("/appointment-not-found")


def test_every_mutation_of_the_schema_starts_a_saga() -> None:
    # A new mutation that starts no saga must be left out of SAGA_MUTATIONS on purpose;
    # one that does must be in it.
    mutation = schema._schema.mutation_type
    assert mutation is not None
    assert set(mutation.fields) - NO_SAGA == SAGA_MUTATIONS


# Mutations left out of SAGA_MUTATIONS on purpose: one transaction each (declining is one
# update of the offer's round, which commits one change), no saga.
NO_SAGA = {"confirmAppointment", "joinWaitlist", "leaveWaitlist", "declineOffer"}


def free_slots(count: int) -> str:
    fields = " ".join(
        f'a{i}: freeSlots(doctorId: "doc-{i}", day: "2030-01-07") {{ start }}' for i in range(count)
    )
    return "{ " + fields + " }"


@pytest.mark.parametrize(("max_peer_calls", "refused"), [(2, True), (3, False)])
async def test_peer_calling_fields_per_operation_are_limited(
    make_context: MakeContext, max_peer_calls: int, refused: bool
) -> None:
    schedule = FakeSchedule()
    context = make_context(schedule=schedule)
    context.limits = dataclasses.replace(context.limits, max_peer_calls=max_peer_calls)

    result = await execute(context, free_slots(3))

    if refused:
        [error] = result.errors
        assert error.message == "3 fields that call a peer service found. Allowed: 2"
        assert error.extensions["type"].endswith("/too-many-peer-calls")
        assert error.extensions["status"] == 400
        assert schedule.calls == []  # nothing ran: not even the read view was asked
    else:
        assert result.errors is None
        assert set(result.data) == {"a0", "a1", "a2"}


async def test_a_fragment_does_not_hide_peer_calls(make_context: MakeContext) -> None:
    context = make_context()
    context.limits = dataclasses.replace(context.limits, max_peer_calls=2)
    document = (
        "{ ...F ...G } "
        'fragment F on Query { a: freeSlots(doctorId: "d-1", day: "2030-01-07") { start } } '
        'fragment G on Query { ...F b: freeSlots(doctorId: "d-2", day: "2030-01-07") { start } }'
    )
    result = await execute(context, document)
    [error] = result.errors
    assert error.message == "3 fields that call a peer service found. Allowed: 2"


def test_the_peer_call_limit_comes_from_the_settings() -> None:
    limits = Limits.of(load_settings(graphql_max_peer_calls=4))
    assert (limits.max_peer_calls, limits.max_sagas) == (4, 1)
    assert Limits.of(load_settings()).max_peer_calls == 7
