"""graphql-core's execution, with a shortcut for objects whose selected fields are all
plain leaves, as a schedule's entries are.

graphql-core executes every field of every object the same way: a resolve info, the
resolver (Strawberry's, which reads the attribute), then the value's completion through
the type's wrappers. For a week of a busy doctor (280 entries) that is 1,400 field
executions for five fields, 3,900 for all fourteen, at ~5 µs each: most of what a
``doctorSchedule`` query costs the API. Here, an object whose selection holds only
fields that read an attribute (no resolver, arguments, permission or field extension,
no middleware) and answer a scalar or an enum (``__typename`` too) is answered in one
loop: the attribute, coerced to its output as graphql-core would. A list of such objects
is answered item by item the same way, without graphql-core's completion of each item
(a list holding a null, an error or an awaitable goes its way).

The answer is the same, errors included: whatever the loop does not simply answer (a
null where the type says non-null, a value the type does not coerce, an exception) is
left to graphql-core's own ``execute_field`` for that field, which finds and reports it
as ever (the attribute read and the coercion are pure, so doing them again is safe)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from enum import Enum, EnumMeta
from functools import cache
from typing import Any, NamedTuple

from graphql import (
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    Undefined,
)
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

_TYPENAME = "__typename"
_NULL = object()  # a null the field may answer


class Leaf(NamedTuple):
    """One selected field the loop answers: ``attribute`` of the source (None for
    ``__typename``), made its output by ``coerce``."""

    response_name: str
    attribute: str | None
    coerce: Callable[[Any], Any]
    non_null: bool
    field_details_list: Any  # graphql-core's FieldDetailsList, for the slow way back


@cache
def coercion(leaf_type: GraphQLLeafType) -> Callable[[Any], Any]:
    """The type's ``coerce_output_value``; for an enum of Strawberry's, what it answers
    for each member, looked up (its own looks for the member's name value by value,
    which is a good part of an entry's cost), and its own for anything else."""
    coerce = leaf_type.coerce_output_value
    members = getattr(leaf_type, "wrapped_cls", None)
    if not isinstance(leaf_type, GraphQLEnumType) or not isinstance(members, EnumMeta):
        return coerce
    names: dict[int, Any] = {}
    every: list[Enum] = [*members]  # members live for good: their ids stay theirs
    for member in every:
        with suppress(Exception):  # one the type refuses is refused by its own, each time
            names[id(member)] = coerce(member)

    def coerce_member(value: Any) -> Any:
        if type(value) is members:
            name = names.get(id(value))
            if name is not None:
                return name
        return coerce(value)

    return coerce_member


def plain_attribute(field: Any) -> str | None:
    """The attribute a schema field reads when it is a plain one (Strawberry's basic
    field on the default resolver, ``getattr``), else None."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        not isinstance(definition, StrawberryField)
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
        or not getattr(field.resolve, "_is_default", False)
        or field.args
    ):
        return None
    return definition.python_name


class LeafShortcut(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context (one per operation), answering objects of plain
    leaves in one loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # By the identity of graphql-core's grouped field set (memoized per selection,
        # so every entry of a list shares one), kept alive beside its plan.
        self._plans: dict[tuple[str, int], tuple[Any, tuple[Leaf, ...] | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        leaves = self._leaves(parent_type, grouped_field_set)
        if leaves is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        return self._answer(parent_type, source_value, leaves, path, position_context)

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list of objects of plain leaves, each answered by the loop; any other list,
        or one holding a null, an error or an awaitable, graphql-core's own way."""
        leaves = None
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if (
            isinstance(object_type, GraphQLObjectType)
            and object_type.is_type_of is None
            and position_context is None
            and isinstance(items, list)
            and self.get_stream_usage(field_details_list, path) is None
        ):
            grouped_field_set, defer_usages, _ = self.collect_subfields(
                object_type, field_details_list
            )
            if not defer_usages:
                leaves = self._leaves(object_type, grouped_field_set)
        is_awaitable = self.is_awaitable
        if leaves is None or any(
            item is None or isinstance(item, Exception) or is_awaitable(item) for item in items
        ):
            return super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
        assert isinstance(object_type, GraphQLObjectType)
        completed: list[Any] = []
        for index, item in enumerate(items):
            item_path = path.add_key(index, None)
            try:
                completed.append(self._answer(object_type, item, leaves, item_path, None))
            except Exception as error:
                self.handle_field_error(error, item_type, field_details_list, item_path)
                completed.append(None)
        return completed

    def _leaves(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> tuple[Leaf, ...] | None:
        key = (parent_type.name, id(grouped_field_set))
        known = self._plans.get(key)
        if known is None:
            known = (grouped_field_set, self._plan(parent_type, grouped_field_set))
            self._plans[key] = known
        return known[1]

    def _answer(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        leaves: tuple[Leaf, ...],
        path: Path | None,
        position_context: Any,
    ) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for leaf in leaves:
            if leaf.attribute is None:
                results[leaf.response_name] = parent_type.name
                continue
            try:
                value = getattr(source_value, leaf.attribute)
                if value is None:
                    coerced = None if leaf.non_null else _NULL
                elif value is Undefined or isinstance(value, Exception):
                    coerced = None
                else:
                    coerced = leaf.coerce(value)
            except Exception:  # graphql-core's own way reports it
                coerced = None
            if coerced is _NULL:
                results[leaf.response_name] = None
            elif coerced is not None and coerced is not Undefined:
                results[leaf.response_name] = coerced
            else:  # graphql-core's own way, which finds and reports what is wrong
                results[leaf.response_name] = self.execute_field(
                    parent_type,
                    source_value,
                    leaf.field_details_list,
                    Path(path, leaf.response_name, parent_type.name),
                    position_context,
                )
        return results

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> tuple[Leaf, ...] | None:
        """The leaves of a selection, or None unless every field of it is one."""
        leaves = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            name = node.name.value
            if name == _TYPENAME:
                leaves.append(Leaf(response_name, None, str, True, field_details_list))
                continue
            field = self.schema.get_field(parent_type, name)
            if field is None or node.arguments:
                return None
            attribute = plain_attribute(field)
            if attribute is None:
                return None
            if self.middleware_manager is not None:
                resolve = field.resolve or self.field_resolver
                if self.middleware_manager.get_field_resolver(resolve) is not resolve:
                    return None  # a middleware wants to see every field
            return_type, non_null = field.type, False
            if isinstance(return_type, GraphQLNonNull):
                return_type, non_null = return_type.of_type, True
            if not isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
                return None
            leaves.append(
                Leaf(response_name, attribute, coercion(return_type), non_null, field_details_list)
            )
        return tuple(leaves)
