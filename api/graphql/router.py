"""The /graphql endpoint: Strawberry's FastAPI router, answering what goes wrong before
GraphQL starts (no token, a body that is not a GraphQL request) as REST does, with
problem+json."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from fastapi.routing import APIWebSocketRoute
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from api.docs import pages
from api.graphql.context import GraphQLContext, get_context
from api.graphql.schema import schema
from api.problems import ProblemError

PATH = "/graphql"


class ProblemGraphQLRouter(GraphQLRouter[GraphQLContext, None]):
    """Strawberry answers a malformed request (not JSON, a batch, a GET query, no query)
    with plain text; here it becomes a 400 problem document like every other error of
    the API. No subscriptions exist, so the WebSocket endpoint is dropped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.routes[:] = [r for r in self.routes if not isinstance(r, APIWebSocketRoute)]

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """Our GraphiQL page (Strawberry's loads its scripts from a CDN): the same
        packages, served by the service itself, under a same-origin-only CSP."""
        return pages.page(pages.graphiql_html())

    async def run(  # type: ignore[override]
        self, request: Request, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as error:
            raise ProblemError(
                error.status_code, "graphql-bad-request", "Bad GraphQL request", error.reason
            ) from None


def make_router() -> ProblemGraphQLRouter:
    return ProblemGraphQLRouter(
        schema=schema,
        path=PATH,
        # GET /graphql in a browser: GraphiQL, our own staff's tool (a token goes in its
        # Headers tab). Introspection stays on for it; the schema holds nothing secret.
        graphql_ide="graphiql",
        # Operations go by POST: a GET query would put patient ids in URLs and access logs.
        allow_queries_via_get=False,
        context_getter=get_context,
        multipart_uploads_enabled=False,
        # GraphQL describes itself (introspection, GraphiQL); the OpenAPI document and its
        # contract test cover REST.
        include_in_schema=False,
    )
