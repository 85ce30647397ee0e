"""RFC 9457 problem documents: every error the API answers, in one place.

A domain error maps to a status by its type; validation errors list the fields; anything
unexpected is logged with the request id and answered with a generic 500 that reveals
nothing about the internals."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.security.permissions import Forbidden, NotVisible
from domain import errors

PROBLEM_BASE = "https://clinic.example/problems/"
MEDIA_TYPE = "application/problem+json"

STATUS_FOR: dict[type[errors.DomainError], int] = {
    errors.InvalidAppointment: 422,
    errors.SlotNotOffered: 422,
    errors.PatientNotFound: 422,
    errors.DoctorNotFound: 422,
    errors.SlotUnavailable: 409,
    errors.IllegalTransition: 409,
    errors.ConcurrencyConflict: 409,
    errors.BillingRefused: 402,
    errors.AppointmentNotFound: 404,
}


class FieldError(BaseModel):
    field: str = Field(examples=["body.start"])
    message: str = Field(examples=["start must carry a UTC offset"])


class Problem(BaseModel):
    """application/problem+json (RFC 9457)."""

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
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=field_errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def domain_problem(request: Request, error: errors.DomainError) -> JSONResponse:
    status = STATUS_FOR.get(type(error), 409)
    return problem_response(request, status, error.code, error.title, error.detail)


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
    async def on_domain(request: Request, error: errors.DomainError) -> JSONResponse:
        return domain_problem(request, error)

    @app.exception_handler(Forbidden)
    async def on_forbidden(request: Request, error: Forbidden) -> JSONResponse:
        return problem_response(request, 403, "forbidden", "Not allowed", str(error))

    @app.exception_handler(NotVisible)
    async def on_not_visible(request: Request, error: NotVisible) -> JSONResponse:
        return problem_response(request, 404, "appointment-not-found", "Appointment not found")

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(
            request, error.status, error.code, error.title, error.detail, headers=error.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
            error.status_code, "http-error"
        )
        return problem_response(
            request, error.status_code, code, str(error.detail), headers=dict(error.headers or {})
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.opt(exception=error).bind(
            request_id=getattr(request.state, "request_id", None)
        ).error("unexpected error on {} {}", request.method, request.url.path)
        return problem_response(
            request,
            500,
            "internal-error",
            "Internal error",
            "Something went wrong on our side; quote the request id when reporting it.",
        )
