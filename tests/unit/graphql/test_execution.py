"""The leaf shortcut (api/graphql/execution.py) answers exactly what graphql-core's own
execution answers, data and errors alike, and it is what the schema runs: a schedule's
entries are answered without executing their fields one by one."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLEnumType, GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.graphql.execution import LeafShortcut, coercion
from api.graphql.scalars import SCALARS
from api.graphql.schema import schema as appointment_schema
from tests.unit.graphql.conftest import FakeSchedule, MakeContext, Row, execute

AT = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Thing:
    name: str
    size: int | None
    colour: Colour
    at: datetime
    note: str | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Box:
    label: str
    things: list[Thing]


def thing(**changes: Any) -> Thing:
    values: dict[str, Any] = {
        "name": "a", "size": 1, "colour": Colour.RED, "at": AT, "note": None
    }  # fmt: skip
    return Thing(**(values | changes))


@dataclass
class Stored:
    """What a resolver answers: good things, and things whose values break their types."""

    things: list[Thing]


GOOD = [thing(), thing(name="b", size=None, colour=Colour.BLUE, note="n")]
BAD = {
    "null where non-null": [thing(), thing(name=None)],
    "an Int out of range": [thing(size=2**40)],
    "a string for an Int": [thing(size="seven")],
    "not a member of the enum": [thing(colour="green")],
    "a naive datetime": [thing(at=datetime(2030, 1, 7, 8, 0))],  # as stored
    "an exception as the value": [thing(note=ValueError("boom"))],
    "no such attribute": [Box(label="x", things=[])],
    "a null item": [thing(), None],
    "an exception as an item": [thing(), ValueError("no thing")],
    "a tuple, not a list": (thing(), thing(name=None)),
}


def schemas(rows: list[Any]) -> tuple[strawberry.Schema, strawberry.Schema]:
    @strawberry.type
    class Query:
        @strawberry.field
        def things(self) -> list[Thing]:
            return rows

        @strawberry.field
        def maybe_things(self) -> list[Thing | None] | None:
            return rows

        @strawberry.field
        def box(self) -> Box:
            return Box(label="box", things=rows)

    config = StrawberryConfig(scalar_map=SCALARS)
    plain = strawberry.Schema(
        query=Query, config=config, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    shortcut = strawberry.Schema(query=Query, config=config, execution_context_class=LeafShortcut)
    return plain, shortcut


DOCUMENTS = [
    "{ things { name size colour at note } }",
    "{ things { __typename n: name s: size name } }",
    "{ maybeThings { name size colour at note } }",
    "{ things { ...T } } fragment T on Thing { name at ... on Thing { colour } }",
    "{ things { name shout } }",  # a resolver among the leaves: graphql-core's way
    "{ box { label things { name size } } }",
    "{ box { label __typename } }",
    "{ things { name @include(if: false) size @skip(if: false) } }",
]


def answer(result: Any) -> Any:
    return result.data, [error.formatted for error in result.errors or []]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("rows", [GOOD, *BAD.values()], ids=["good", *BAD])
async def test_the_shortcut_answers_what_graphql_core_answers(
    document: str, rows: list[Any]
) -> None:
    plain, shortcut = schemas(rows)
    expected = answer(await plain.execute(document))
    assert answer(await shortcut.execute(document)) == expected


async def test_the_schema_answers_a_schedule_without_executing_each_field(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[str] = []
    execute_field = LeafShortcut.execute_field
    complete_item = LeafShortcut.complete_list_item_value

    def counting(self: LeafShortcut, parent_type: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(parent_type.name)
        return execute_field(self, parent_type, *args, **kwargs)

    def counting_items(self: LeafShortcut, *args: Any, **kwargs: Any) -> Any:
        executed.append("an item")
        return complete_item(self, *args, **kwargs)

    monkeypatch.setattr(LeafShortcut, "execute_field", counting)
    monkeypatch.setattr(LeafShortcut, "complete_list_item_value", counting_items)
    rows = [Row(id=f"7f0c3e9a-3f6e-4c65-9a59-5b8d1d0c1a1{i}") for i in range(3)]
    document = (
        '{ doctorSchedule(doctorId: "doc-on-call", from: "2030-01-07T00:00:00Z", '
        'to: "2030-01-14T00:00:00Z") { id start end status patientName day } }'
    )
    result = await execute(make_context(schedule=FakeSchedule(rows)), document)

    assert result.errors is None
    assert len(result.data["doctorSchedule"]) == 3
    assert executed == ["Query"]  # the root field only: no field, no item one by one


async def test_the_schema_runs_the_shortcut() -> None:
    assert appointment_schema.execution_context_class is LeafShortcut


def test_an_enum_member_is_looked_up_and_anything_else_coerced_as_ever() -> None:
    _, shortcut = schemas(GOOD)
    colour = shortcut._schema.get_type("Colour")
    assert isinstance(colour, GraphQLEnumType)
    coerce = coercion(colour)

    assert coerce is not colour.coerce_output_value  # a lookup of its own
    assert [coerce(member) for member in Colour] == ["RED", "BLUE"]
    with pytest.raises(GraphQLError, match="Enum 'Colour' cannot represent value: 'green'"):
        coerce("green")
