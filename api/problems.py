"""RFC 9457 problem documents: every error the API answers, in one place.

A domain error maps to a status by its type; validation errors list the fields; anything
unexpected is logged with the request id and answered with a generic 500 that reveals
nothing about the internals."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from loguru import logger
from pydantic import BaseModel, Field
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.service import RPCError

from api.fhir.outcome import on_fhir_door, outcome_response
from application import errors as refusals
from application.permissions import Forbidden, NotVisible
from domain import errors
from domain import waitlist as waitlist_errors

PROBLEM_BASE = "https://clinic.example/problems/"
MEDIA_TYPE = "application/problem+json"
PAYLOAD_TOO_LARGE = "Request body too large"

# Every refusal of the domain and the application layer, and its status: one table for
# REST's problem documents and GraphQL's errors alike.
STATUS_FOR: dict[type[Exception], int] = {
    errors.InvalidAppointment: 422,
    errors.SlotNotOffered: 422,
    errors.PatientNotFound: 422,
    errors.DoctorNotFound: 422,
    errors.InvalidScheduleWindow: 422,
    errors.SlotUnavailable: 409,
    errors.IllegalTransition: 409,
    errors.NoShowBeforeStart: 409,
    errors.AppointmentStarted: 409,
    errors.NoShowReversalClosed: 409,
    errors.ConcurrencyConflict: 409,
    errors.BillingRefused: 402,
    errors.AppointmentNotFound: 404,
    refusals.InvalidInput: 422,
    refusals.InvalidIdempotencyKey: 400,
    refusals.IdempotencyKeyReused: 422,
    refusals.UnknownDoctor: 404,
    refusals.SagaCancelled: 409,
    refusals.SagaFailed: 503,
    refusals.PatientCapReached: 409,
    refusals.TooManyRequests: 429,
    waitlist_errors.InvalidWaitlistEntry: 422,
    waitlist_errors.WaitlistEntryNotFound: 404,
    waitlist_errors.OfferNotFound: 404,
    waitlist_errors.OfferExpired: 409,
    waitlist_errors.OfferClosed: 409,
    waitlist_errors.WaitlistFull: 409,
    waitlist_errors.EntryNotActive: 409,
    waitlist_errors.SlotOfferedToWaitlist: 409,
}


def status_of(error: errors.DomainError | refusals.Refused) -> int:
    return STATUS_FOR.get(type(error), 409)


def retry_after(error: Exception) -> dict[str, str]:
    """The Retry-After of a refusal that a later retry may overcome."""
    if isinstance(error, refusals.SagaFailed | refusals.TooManyRequests):
        return {"Retry-After": str(error.retry_after_seconds)}
    if isinstance(error, errors.PeerUnavailable):
        return {"Retry-After": str(max(1, math.ceil(error.retry_after or 5)))}
    return {}


class FieldError(BaseModel):
    field: str = Field(examples=["body.start"])
    message: str = Field(examples=["start must carry a UTC offset"])


class Problem(BaseModel):
    """application/problem+json (RFC 9457). A problem may carry extension members: the
    readiness probe's 503 lists its ``checks``."""

    type: str = Field(examples=[PROBLEM_BASE + "slot-unavailable"])
    title: str = Field(examples=["The slot is taken"])
    status: int = Field(examples=[409])
    detail: str | None = Field(None, examples=["Dr. Hart is not free at 2030-01-07T09:00:00+01:00"])
    instance: str | None = Field(None, examples=["/api/v1/appointments"])
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """An error the API answers as it is (for errors that are not domain refusals)."""

    def __init__(
        self, status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = headers


def problem_response(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    field_errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    """The problem document of ``request``; ``extensions`` are RFC 9457 extension members,
    added after the standard ones (which they cannot replace). On the FHIR door
    (``/fhir/R4``) the same error is an OperationOutcome (api/fhir/outcome.py) instead,
    with the detail as its diagnostics."""
    if on_fhir_door(request.url.path):  # the FHIR door answers OperationOutcomes
        words = detail or title
        if field_errors:
            words = "; ".join(f"{e.field}: {e.message}" for e in field_errors)
        where = [e.field for e in field_errors] if field_errors else None
        return outcome_response(status, code, words, headers=headers, expression=where)
    body = Problem(
        type=PROBLEM_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=field_errors,
    )
    document = body.model_dump(exclude_none=True)
    document |= {k: v for k, v in (extensions or {}).items() if k not in Problem.model_fields}
    return JSONResponse(
        document,
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def refusal_problem(request: Request, error: errors.DomainError | refusals.Refused) -> JSONResponse:
    fields = None
    if isinstance(error, refusals.InvalidInput):
        fields = [FieldError(field=e.field, message=e.message) for e in error.field_errors]
    return problem_response(
        request,
        status_of(error),
        error.code,
        error.title,
        error.detail,
        fields,
        headers=retry_after(error) or None,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """The methods the request's path answers, asked of the routes themselves (GET, PATCH
    and DELETE of an appointment are three routes, in an included router), and OPTIONS,
    answered for every path a route serves. Empty for a path no route serves."""
    routes = request.app.router.routes
    methods = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return [*methods, "OPTIONS"] if methods else []


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # pydantic prefixes messages of ValueErrors raised in validators; drop the noise
    return message.removeprefix("Value error, ")


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            FieldError(field=_field_name(e["loc"]), message=_validation_message(e))
            for e in error.errors()
        ]
        return problem_response(
            request, 422, "validation-error", "The request is not valid", None, fields
        )

    @app.exception_handler(errors.DomainError)
    @app.exception_handler(refusals.Refused)
    async def on_refusal(
        request: Request, error: errors.DomainError | refusals.Refused
    ) -> JSONResponse:
        return refusal_problem(request, error)

    @app.exception_handler(Forbidden)
    async def on_forbidden(request: Request, error: Forbidden) -> JSONResponse:
        return problem_response(request, 403, "forbidden", "Not allowed", str(error))

    @app.exception_handler(NotVisible)
    @app.exception_handler(errors.AppointmentNotFound)
    async def on_not_found(request: Request, error: Exception) -> JSONResponse:
        # Someone else's appointment answers exactly like one that does not exist, down to
        # the missing detail: nothing tells the two apart.
        return problem_response(request, 404, "appointment-not-found", "Appointment not found")

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(
            request, error.status, error.code, error.title, error.detail, headers=error.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 413:  # a streamed body over the limit (api/middleware.py)
            title, detail = PAYLOAD_TOO_LARGE, str(error.detail)
            return problem_response(request, 413, "payload-too-large", title, detail, None, headers)
        if error.status_code == 405:  # a known path, another method (RFC 9110 15.5.6)
            allow = ", ".join(allowed_methods(request))
            if request.method == "OPTIONS":  # what may be done here (RFC 9110 9.3.7)
                return Response(status_code=204, headers={"Allow": allow})
            headers["Allow"] = allow
        code = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return problem_response(
            request, error.status_code, code, str(error.detail), headers=headers
        )

    @app.exception_handler(errors.PeerUnavailable)
    async def on_peer_unavailable(request: Request, error: errors.PeerUnavailable) -> JSONResponse:
        # A peer did not answer, or its circuit breaker is open (the call was not even
        # made): a temporary condition; Retry-After is the breaker's when it has one.
        return problem_response(
            request,
            503,
            "peer-unavailable",
            "Service unavailable",
            f"The {error.peer.title()} Service is not reachable; retry shortly.",
            headers=retry_after(error),
        )

    @app.exception_handler(RPCError)
    @app.exception_handler(PyMongoConnectionFailure)
    async def on_infrastructure_down(request: Request, error: Exception) -> JSONResponse:
        # Temporal or MongoDB out of reach: a temporary condition, not our bug.
        request_id = getattr(request.state, "request_id", None)
        logger.bind(request_id=request_id).warning(
            "infrastructure unavailable on {} {}: {}", request.method, request.url.path, error
        )
        return problem_response(
            request,
            503,
            "service-unavailable",
            "Service unavailable",
            "A system this service depends on is not reachable; retry shortly.",
            headers={"Retry-After": "5", "X-Request-ID": request_id or ""},
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        logger.opt(exception=error).bind(request_id=request_id).error(
            "unexpected error on {} {}", request.method, request.url.path
        )
        # Answered by Starlette's outermost middleware, past our request log: echo the
        # request id here so the caller can quote it.
        return problem_response(
            request,
            500,
            "internal-error",
            "Internal error",
            "Something went wrong on our side; quote the request id when reporting it.",
            headers={"X-Request-ID": request_id or ""},
        )


_PROBLEM_REF = "#/components/schemas/Problem"
_FASTAPI_DEFAULTS = ("HTTPValidationError", "ValidationError")
_ALWAYS_SENT: dict[str, dict[str, dict[str, Any]]] = {
    "401": {
        "WWW-Authenticate": {
            "description": 'the Bearer challenge (RFC 6750), e.g. Bearer error="invalid_token"',
            "required": True,
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "seconds until the caller's quota lets the request through",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    "503": {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}


def _is_error(status: str) -> bool:
    return (status.isdigit() and int(status) >= 400) or status.upper() in ("4XX", "5XX")


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as the API answers: every 4xx and 5xx response is exactly
    ``application/problem+json`` with the Problem schema. FastAPI documents a response
    ``model`` under application/json (never sent here) and its automatic 422 as
    HTTPValidationError (never sent either); both are replaced, and the headers every 401
    and 503 carry are added. Changes ``document`` in place and returns it."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if not _is_error(str(status)):
                    continue
                response["content"] = {MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}}
                for name, spec in _ALWAYS_SENT.get(str(status), {}).items():
                    response.setdefault("headers", {}).setdefault(name, spec)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        generated = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        schemas.update(generated.pop("$defs", {}))
        schemas["Problem"] = generated
    for name in _FASTAPI_DEFAULTS:  # in this order: the first refers to the second
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    return document
