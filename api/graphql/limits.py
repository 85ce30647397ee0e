"""What one GraphQL document may cost: Strawberry's own limiters, sized per request.

The schema is built once, when ``api.graphql`` is imported, but the limits belong to the
settings of the app that serves the request (``create_app(settings)``; no module reads
the environment). So this extension takes the sizes from the request's context and hands
Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` rules to the validation, and
the token cap to the parser, as ``MaxTokensLimiter`` does. Two rules of our own weigh what
a document makes the service do, in the operation that runs:

- at most one saga-starting mutation (``bookAppointment``, ``cancelAppointment``,
  ``rescheduleAppointment``): each starts a saga on Temporal, so sixteen in one document
  would be sixteen sagas for one request;
- at most ``max_peer_calls`` fields that call a peer service (``freeSlots`` asks the
  Doctor Service for the doctor's calendar).

Fields are counted in the operation the request names (GraphiQL sends its whole editor,
with ``operationName``), through every fragment at every spread, so a fragment spread
twice counts twice. Counting the root fields suffices: no type has a field that leads
back to ``Query`` or ``Mutation``.

Introspection stays on: GraphiQL and the schema are our own staff's tool, and the schema
holds nothing secret. The depth limiter skips introspection fields (``__schema``...) by
design, so GraphiQL's deep introspection query passes whatever ``max_depth`` is."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from config import Settings

# Tokens in one document. GraphiQL's full introspection query has ~190, one booking
# mutation ~40, fifteen aliased fields a few hundred: 1000 leaves room for any honest
# operation and stops a document built to make the parser work (the 64 KiB body limit
# alone would let ~30 000 tokens through).
MAX_TOKENS = 1000

# The mutations that start a saga (each is one, on Temporal), and how many one operation
# may hold. Every mutation of the schema is one of them (tests/unit/graphql/test_limits.py).
SAGA_MUTATIONS = frozenset(
    {
        "bookAppointment",
        "cancelAppointment",
        "rescheduleAppointment",
        "reverseNoShow",
        "acceptOffer",  # the offer's round runs the booking saga
    }
)
MAX_SAGAS = 1
# The queries that call a peer service, each time they are asked.
PEER_CALLING_QUERIES = frozenset({"freeSlots"})
# Rule sets kept (one per settings and operation name; the name is the client's, so the
# number is bounded).
RULE_SETS = 256


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_peer_calls: int = 7
    max_tokens: int = MAX_TOKENS
    max_sagas: int = MAX_SAGAS

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_peer_calls=settings.graphql_max_peer_calls,
        )


Fragments = Mapping[str, FragmentDefinitionNode]


def root_fields(
    selections: SelectionSetNode, fragments: Fragments, seen: frozenset[str] = frozenset()
) -> Iterator[str]:
    """The names of the fields a root selection set asks for, through its inline fragments
    and fragment spreads (each spread anew; a cycle, refused by graphql-core's own rules,
    is not followed)."""
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                yield from root_fields(fragment.selection_set, fragments, seen | {name})


def counting_rule(
    kind: OperationType, names: frozenset[str], allowed: int, what: str, operation: str | None
) -> type[ValidationRule]:
    """A validation rule refusing the document when the operation that runs (``operation``
    by name; every one when the request names none) asks for more than ``allowed`` of the
    root fields ``names`` of its ``kind``."""

    class CountingRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            definitions = context.document.definitions
            fragments = {
                d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)
            }
            found = sum(
                1
                for d in definitions
                if isinstance(d, OperationDefinitionNode)
                and d.operation is kind
                and (operation is None or (d.name is not None and d.name.value == operation))
                for name in root_fields(d.selection_set, fragments)
                if name in names
            )
            if found > allowed:
                context.report_error(GraphQLError(f"{found} {what} found. Allowed: {allowed}"))

    return CountingRule


@lru_cache(maxsize=RULE_SETS)
def limit_rules(limits: Limits, operation: str | None) -> tuple[type[ASTValidationRule], ...]:
    """The rules that enforce ``limits`` on the operation named ``operation``: the same
    classes every time, so that the validation cache (api/graphql/schema.py), keyed by
    the document and the rules, finds a document it has validated before."""
    return (
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        counting_rule(
            OperationType.MUTATION,
            SAGA_MUTATIONS,
            limits.max_sagas,
            "saga-starting mutations",
            operation,
        ),
        counting_rule(
            OperationType.QUERY,
            PEER_CALLING_QUERIES,
            limits.max_peer_calls,
            "fields that call a peer service",
            operation,
        ),
    )


class OperationLimits(SchemaExtension):
    """Refuses, before anything runs, a document deeper than ``max_depth`` fields, with
    more than ``max_aliases`` aliases, or longer than ``max_tokens`` tokens; and an
    operation with more than ``max_sagas`` saga-starting mutations or ``max_peer_calls``
    peer-calling fields. The context (``GraphQLContext``) carries ``limits``."""

    def on_operation(self) -> Iterator[None]:
        limits: Limits = self.execution_context.context.limits
        operation = self.execution_context.operation_name  # None: the document's only one
        rules = limit_rules(limits, operation)
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, *rules)
        self.execution_context.parse_options["max_tokens"] = limits.max_tokens
        yield
