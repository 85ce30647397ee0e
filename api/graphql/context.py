"""The context of one GraphQL request: who calls (the same Bearer JWT as REST, checked
once, here) and the services the resolvers call, taken from the app's state."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from strawberry.fastapi import BaseContext

from api import deps
from api.appointment_sagas import AppointmentSagas
from api.booking import BookingService
from api.graphql.limits import Limits
from api.problems import ProblemError
from api.security.permissions import Principal
from config import Settings
from domain.events import EventContext
from projections.queries import ScheduleQueries

# The same scheme as REST's (api/deps.py); auto_error off so that deps.principal answers
# the missing token with its own 401 problem and WWW-Authenticate challenge.
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")

T = TypeVar("T")


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
        schedule: ScheduleQueries | None,
        booking: BookingService | None,
        sagas: AppointmentSagas | None,
    ) -> None:
        super().__init__()
        self._principal = principal
        self.settings = settings
        self.limits = Limits.of(settings)
        self.request_id = request_id
        self.wait_seconds = wait_seconds
        self._schedule = schedule
        self._booking = booking
        self._sagas = sagas

    @property
    def principal(self) -> Principal:
        if self._principal is None:  # never: operations are refused without a token
            raise ProblemError(401, "unauthorized", "Authentication required", "no token")
        return self._principal

    @property
    def caller(self) -> EventContext:
        """Who asked, as the sagas record it in the audit trail (as REST's deps.caller)."""
        return EventContext(actor=self.principal.actor, request_id=self.request_id)

    @property
    def schedule(self) -> ScheduleQueries:
        return _present(self._schedule, "schedule")

    @property
    def booking(self) -> BookingService:
        return _present(self._booking, "booking")

    @property
    def sagas(self) -> AppointmentSagas:
        return _present(self._sagas, "sagas")


def _present(service: T | None, name: str) -> T:
    if service is None:  # the app's lifespan did not run: a wiring bug, answered as 500
        raise RuntimeError(f"app.state.{name} is not set")
    return service


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
    principal = None if wants_graphiql(request) else deps.principal(request, credentials)
    return GraphQLContext(
        principal=principal,
        settings=state.settings,
        request_id=getattr(request.state, "request_id", None),
        # REST's budget, Prefer header included: respond-async answers at once.
        wait_seconds=deps.wait_budget(state.settings, request.headers.get("prefer")),
        schedule=getattr(state, "schedule", None),
        booking=getattr(state, "booking", None),
        sagas=getattr(state, "sagas", None),
    )
