"""Depth, aliases and tokens are limited before anything runs, by the sizes in the
settings of the app that serves the request (here max depth 4, max aliases 3)."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from api.graphql.limits import MAX_TOKENS
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
    from api.graphql.schema import schema

    assert schema.config.batching_config is None
