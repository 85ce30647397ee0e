"""The GraphQL schema: queries from the read view, mutations through the REST service
code, the DateTime scalar that requires an offset, the operation limits and the error
mapping. Built once, at import; everything per request comes with the context."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from api.graphql.errors import ProblemDetails
from api.graphql.limits import OperationLimits
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.scalars import SCALARS


class AppointmentSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry would log every error with its traceback, refusals included (a
        patient asking for someone else's appointment is no incident). ``ProblemDetails``
        logs what deserves it instead: unexpected errors, with the request id."""


schema = AppointmentSchema(
    query=Query,
    mutation=Mutation,
    # Classes, not instances: Strawberry makes fresh ones for every operation.
    extensions=[OperationLimits, ProblemDetails],
    config=StrawberryConfig(
        scalar_map=SCALARS,
        # One operation per request: a batch would multiply what the limits allow.
        batching_config=None,
    ),
)
