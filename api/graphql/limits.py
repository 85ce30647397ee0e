"""What one GraphQL document may cost: Strawberry's own limiters, sized per request.

The schema is built once, when ``api.graphql`` is imported, but the limits belong to the
settings of the app that serves the request (``create_app(settings)``; no module reads
the environment). So this extension takes the sizes from the request's context and hands
Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` rules to the validation, and
the token cap to the parser, as ``MaxTokensLimiter`` does.

Introspection stays on: GraphiQL and the schema are our own staff's tool, and the schema
holds nothing secret. The depth limiter skips introspection fields (``__schema``...) by
design, so GraphiQL's deep introspection query passes whatever ``max_depth`` is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from config import Settings

# Tokens in one document. GraphiQL's full introspection query has ~190, one booking
# mutation ~40, fifteen aliased fields a few hundred: 1000 leaves room for any honest
# operation and stops a document built to make the parser work (the 64 KiB body limit
# alone would let ~30 000 tokens through).
MAX_TOKENS = 1000


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_tokens: int = MAX_TOKENS

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases)


class OperationLimits(SchemaExtension):
    """Refuses, before anything runs, a document deeper than ``max_depth`` fields, with
    more than ``max_aliases`` aliases, or longer than ``max_tokens`` tokens. The context
    (``GraphQLContext``) carries ``limits``."""

    def on_operation(self) -> Iterator[None]:
        limits: Limits = self.execution_context.context.limits
        rules = (
            *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        )
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, *rules)
        self.execution_context.parse_options["max_tokens"] = limits.max_tokens
        yield
