"""One mapping from what a GraphQL operation runs into to the error the client sees, with
the RFC 9457 fields of REST's problem documents (``api/problems.py``) in ``extensions``:
``code`` (the GraphQL convention), ``status``, ``type``, ``title``, and ``requestId``.

Whatever is not a known refusal, an input error or an infrastructure outage is an
internal error: logged with its traceback and request id, answered as a generic INTERNAL
error that reveals nothing (our own MaskErrors)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from loguru import logger
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure
from strawberry.extensions import SchemaExtension
from temporalio.service import RPCError

from api.problems import PROBLEM_BASE, ProblemError, status_of
from application import errors as refusals
from application.errors import FieldError
from application.permissions import Forbidden, NotVisible
from domain import errors

CODE_FOR_STATUS: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    402: "PAYMENT_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "BAD_USER_INPUT",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
    500: "INTERNAL",
}
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

# The words of Strawberry's limiters (pinned by tests/unit/graphql/test_limits.py).
_TOO_DEEP = re.compile(r"exceeds maximum operation depth of \d+")
_TOO_MANY_ALIASES = re.compile(r"\d+ aliases found\. Allowed: \d+")
_TOO_MANY_TOKENS = re.compile(r"Document contains more than \d+ tokens")
# The words of our own limiters (api/graphql/limits.py).
_TOO_MANY_SAGAS = re.compile(r"\d+ saga-starting mutations found\. Allowed: \d+")
_TOO_MANY_PEER_CALLS = re.compile(r"\d+ fields that call a peer service found\. Allowed: \d+")


@dataclass(frozen=True)
class GraphQLProblem:
    """What the client learns about one error."""

    status: int
    slug: str  # the problem type, as REST names it: PROBLEM_BASE + slug
    title: str
    detail: str | None = None
    code: str | None = None  # None: CODE_FOR_STATUS[status]
    field_errors: list[FieldError] = field(default_factory=list)
    retry_after: int | None = None  # seconds: REST's Retry-After header

    def extensions(self, request_id: str | None) -> dict[str, Any]:
        extensions: dict[str, Any] = {
            "code": self.code or CODE_FOR_STATUS.get(self.status, "BAD_REQUEST"),
            "status": self.status,
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "requestId": request_id,
        }
        if self.field_errors:
            extensions["errors"] = [
                {"field": e.field, "message": e.message} for e in self.field_errors
            ]
        if self.retry_after is not None:
            extensions["retryAfter"] = self.retry_after
        return extensions


# Someone else's appointment answers exactly like one that does not exist, down to the
# message: the id the caller sent is not echoed, so the two cannot be told apart.
NOT_FOUND = GraphQLProblem(
    404, "appointment-not-found", "Appointment not found", "Appointment not found"
)
INTERNAL = GraphQLProblem(
    500,
    "internal-error",
    "Internal error",
    "Something went wrong on our side; quote the request id when reporting it.",
)
UNAVAILABLE = GraphQLProblem(
    503,
    "service-unavailable",
    "Service unavailable",
    "A system this service depends on is not reachable; retry shortly.",
)


def problem_of(error: BaseException) -> GraphQLProblem | None:
    """The problem a resolver's exception is, or None when it is unexpected."""
    match error:
        case refusals.InvalidInput():
            return GraphQLProblem(
                422, error.code, error.title, str(error), field_errors=error.field_errors
            )
        case NotVisible() | errors.AppointmentNotFound():
            return NOT_FOUND
        case refusals.TooManyRequests():
            return GraphQLProblem(
                429, error.code, error.title, error.detail, retry_after=error.retry_after_seconds
            )
        case errors.DomainError() | refusals.Refused():
            return GraphQLProblem(status_of(error), error.code, error.title, error.detail)
        case Forbidden():
            return GraphQLProblem(403, "forbidden", "Not allowed", str(error))
        case ProblemError():
            return GraphQLProblem(error.status, error.code, error.title, error.detail)
        case errors.PeerUnavailable() | RPCError() | PyMongoConnectionFailure():
            return UNAVAILABLE
    return None


def request_problem(error: GraphQLError, executing: bool) -> GraphQLProblem:
    """The problem of an error in the document or its variables, found before any
    resolver ran (it has no path). Its message is graphql-core's (or our scalars'), made
    from the client's own document: it is shown as it is."""
    message = error.message
    if isinstance(error, GraphQLSyntaxError):
        if _TOO_MANY_TOKENS.search(message):
            return GraphQLProblem(
                400, "too-many-tokens", "The document is too long", message, PARSE_FAILED
            )
        return GraphQLProblem(
            400, "graphql-parse-error", "The document is not GraphQL", message, PARSE_FAILED
        )
    if _TOO_DEEP.search(message):
        return GraphQLProblem(
            400, "query-too-deep", "The query is too deep", message, VALIDATION_FAILED
        )
    if _TOO_MANY_ALIASES.search(message):
        title = "The query has too many aliases"
        return GraphQLProblem(400, "too-many-aliases", title, message, VALIDATION_FAILED)
    if _TOO_MANY_SAGAS.search(message):
        title = "One saga-starting mutation per request"
        return GraphQLProblem(400, "too-many-sagas", title, message, VALIDATION_FAILED)
    if _TOO_MANY_PEER_CALLS.search(message):
        title = "The query calls peer services too often"
        return GraphQLProblem(400, "too-many-peer-calls", title, message, VALIDATION_FAILED)
    if executing:  # validation passed: the variables' values did not fit their types
        return GraphQLProblem(422, "validation-error", "The request is not valid", message)
    title = "The document is not valid against the schema"
    return GraphQLProblem(400, "graphql-validation-error", title, message, VALIDATION_FAILED)


def _is_request_error(error: GraphQLError) -> bool:
    """No path, and made by graphql-core or a scalar (a GraphQLError, or nothing, as the
    cause): the document or the variables are wrong. A pathless error caused by any other
    exception is a bug of ours around the execution, and internal."""
    cause = error.original_error
    return error.path is None and (cause is None or isinstance(cause, GraphQLError))


class ProblemDetails(SchemaExtension):
    """Rewrites every error of the result into its problem, after the operation."""

    def __init__(self) -> None:
        self._executing = False

    def on_execute(self) -> Iterator[None]:
        self._executing = True
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        found = getattr(result, "errors", None)
        if found:
            result.errors = [self._rewrite(error) for error in found]  # type: ignore[union-attr]

    def _rewrite(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        problem = self._problem(error, request_id)
        response = getattr(context, "response", None)  # over HTTP: Strawberry's sub-response
        if problem.retry_after is not None and response is not None:
            # REST's header too: a client or proxy that honours Retry-After need not read
            # the body (one saga mutation per operation: one wait to say).
            response.headers["Retry-After"] = str(problem.retry_after)
        return GraphQLError(
            problem.detail or problem.title,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,  # nothing of the cause leaves, not even by accident
            extensions=problem.extensions(request_id),
        )

    def _problem(self, error: GraphQLError, request_id: str | None) -> GraphQLProblem:
        if _is_request_error(error):
            return request_problem(error, self._executing)
        cause = error.original_error
        problem = problem_of(cause) if cause is not None else None
        _log(error, problem, request_id)
        return problem or INTERNAL


def _log(error: GraphQLError, problem: GraphQLProblem | None, request_id: str | None) -> None:
    bound = logger.bind(request_id=request_id)
    path = ".".join(str(part) for part in error.path or ())
    if problem is None:
        bound.opt(exception=error.original_error).error("unexpected error in GraphQL {}", path)
    elif problem is UNAVAILABLE:
        # Temporal, MongoDB or a peer out of reach: a temporary condition, not our bug.
        bound.warning("infrastructure unavailable in GraphQL {}: {}", path, error.original_error)
