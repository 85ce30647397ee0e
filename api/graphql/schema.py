"""The GraphQL schema: queries from the read view, mutations through the REST service
code, the DateTime scalar that requires an offset, the operation limits and the error
mapping. Built once, at import; everything per request comes with the context.

A document is parsed and validated once: the clients send the same few documents over
and over (variables change, the text does not), and graphql-core's 30-odd validation
rules cost ~3 ms per request for a one-field query, about as much as a week's 280 rows
take to execute. The caches are keyed by the text (and the token limit) and by the
document and the rules (the limits' rules are the same classes for the same settings and
operation name: ``limits.limit_rules``); each is bounded, so unique texts sent to fill
them only push the oldest out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from api.graphql.errors import ProblemDetails
from api.graphql.execution import LeafShortcut
from api.graphql.limits import OperationLimits
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.scalars import SCALARS

# Documents kept parsed and validated (a few per client; GraphiQL users add more).
CACHED_DOCUMENTS = 256


class ParsedOnce(ParserCache):
    """Strawberry's ParserCache, except that a document that does not parse (or a query
    that is no text) is left to Strawberry's own parsing, which reports it as the
    operation's error: the cache's hook would raise it past the operation, and past
    ``ProblemDetails``."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except Exception:  # parsed again, and refused, by Strawberry
            context.graphql_document = None
        yield


class AppointmentSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry would log every error with its traceback, refusals included (a
        patient asking for someone else's appointment is no incident). ``ProblemDetails``
        logs what deserves it instead: unexpected errors, with the request id."""


schema = AppointmentSchema(
    query=Query,
    mutation=Mutation,
    # Classes, not instances: Strawberry makes fresh ones for every operation.
    # OperationLimits first: the rules and the token limit it sets are part of what the
    # caches look up.
    extensions=[
        OperationLimits,
        lambda: ParsedOnce(maxsize=CACHED_DOCUMENTS),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        ProblemDetails,
    ],
    # Objects of plain leaves (a schedule's entries) answered in one loop.
    execution_context_class=LeafShortcut,
    config=StrawberryConfig(
        scalar_map=SCALARS,
        # One operation per request: a batch would multiply what the limits allow.
        batching_config=None,
    ),
)
