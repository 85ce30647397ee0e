"""A document is parsed and validated once (api/graphql/schema.py): the same text sent
again is neither parsed nor validated anew, and still the limits of the settings that
serve it, and of the operation it names, apply; a document that does not parse is
refused every time, as the operation's problem."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.schema import schema as strawberry_schema

from api.graphql.limits import Limits, limit_rules
from config import load_settings
from tests.unit.graphql.conftest import MakeContext, execute

WEEK = (
    '{ doctorSchedule(doctorId: "doc-on-call", from: "2030-01-07T00:00:00Z", '
    'to: "2030-01-14T00:00:00Z") { id status } }'
)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often graphql-core validated a document (Strawberry's ``validate_document``,
    cached or not, calls it)."""
    calls = {"validate": 0}
    validate = getattr(strawberry_schema, "validate")  # noqa: B009 - not exported

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting_validate)
    return calls


def test_the_rules_of_one_settings_and_operation_are_the_same_classes() -> None:
    limits = Limits.of(load_settings(graphql_max_depth=5, graphql_max_aliases=7))
    assert limit_rules(limits, "Week") is limit_rules(limits, "Week")
    assert limit_rules(limits, "Week") != limit_rules(limits, "Day")
    assert limit_rules(limits, None) != limit_rules(Limits.of(load_settings()), None)


async def test_the_same_document_is_validated_once(
    make_context: MakeContext, counted: dict[str, int]
) -> None:
    # A text no other test sends, so that the process's cache has not seen it yet.
    document = WEEK.replace("status", "status reason")
    first = await execute(make_context(), document)
    again = await execute(make_context(), document)

    assert first.errors is None
    assert again.errors is None
    assert again.data == first.data
    assert counted["validate"] == 1


async def test_a_cached_document_meets_the_limits_of_the_settings_that_serve_it(
    make_context: MakeContext,
) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(4))
    document = "{ " + aliases + " }"
    roomy = make_context()
    roomy.limits = Limits.of(load_settings(graphql_max_depth=8, graphql_max_aliases=4))
    assert (await execute(roomy, document)).errors is None

    tight = make_context()  # three aliases at most
    [error] = (await execute(tight, document)).errors
    assert error.extensions["type"].endswith("/too-many-aliases")


async def test_a_document_that_does_not_parse_is_refused_every_time(
    make_context: MakeContext,
) -> None:
    for _ in range(2):
        [error] = (await execute(make_context(), "{ doctorSchedule(")).errors
        assert error.extensions["type"].endswith("/graphql-parse-error")
        assert error.extensions["code"] == "GRAPHQL_PARSE_FAILED"
