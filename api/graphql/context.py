"""The context of one GraphQL request: who calls (the same Bearer JWT as REST, checked
once, here) and the services the resolvers call, taken from the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from strawberry.fastapi import BaseContext

from api import deps
from api.graphql.limits import Limits
from api.problems import ProblemError
from application.access import Channel, Requester
from application.permissions import Principal
from application.services import Services
from config import Settings

# The same scheme as REST's (api/deps.py); auto_error off so that deps.principal answers
# the missing token with its own 401 problem and WWW-Authenticate challenge.
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


class GraphQLContext(BaseContext):
    """Everything a resolver needs, resolved once per request. ``principal`` is None only
    for the GraphiQL page, which executes nothing."""

    def __init__(
        self,
        *,
        principal: Principal | None,
        settings: Settings,
        request_id: str | None,
        wait_seconds: float,
        services: Services | None,
    ) -> None:
        super().__init__()
        self._principal = principal
        self.settings = settings
        self.limits = Limits.of(settings)
        self.request_id = request_id
        self.wait_seconds = wait_seconds
        self._services = services

    @property
    def requester(self) -> Requester:
        """Who asks, as every use case takes it (REST's deps.requester)."""
        if self._principal is None:  # never: operations are refused without a token
            raise ProblemError(401, "unauthorized", "Authentication required", "no token")
        return Requester(self._principal, self.request_id, Channel.GRAPHQL)

    @property
    def services(self) -> Services:
        if self._services is None:  # the app's lifespan did not run: a wiring bug (500)
            raise RuntimeError("app.state.services is not set")
        return self._services


def wants_graphiql(request: Request) -> bool:
    """Strawberry's own test for rendering GraphiQL (``BaseView.should_render_graphql_ide``):
    a GET without a query from something that takes HTML. That page is the staff's tool
    and executes nothing, so it loads without a token."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and request.query_params.get("query") is None
        and any(kind in accept for kind in ("text/html", "*/*"))
    )


async def get_context(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> GraphQLContext:
    """The context getter of the GraphQL router (a FastAPI dependency). A missing or
    invalid token answers HTTP 401 problem+json before anything is parsed, exactly as
    REST does (``api.deps.principal``)."""
    state = request.app.state
    principal = None if wants_graphiql(request) else await deps.principal(request, credentials)
    return GraphQLContext(
        principal=principal,
        settings=state.settings,
        request_id=getattr(request.state, "request_id", None),
        # REST's budget, Prefer header included: respond-async answers at once.
        wait_seconds=deps.wait_budget(state.settings, request.headers.get("prefer")),
        services=getattr(state, "services", None),
    )
