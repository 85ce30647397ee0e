"""RFC 9457 problem documents, the one way every simulator answers an error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from peers.contracts import ProblemDocument

PROBLEM_BASE = "https://clinic.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error answer; raised anywhere in a simulator, rendered by ``install_problem_handlers``."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail

    def document(self) -> ProblemDocument:
        return ProblemDocument(
            type=PROBLEM_BASE + self.code, title=self.title, status=self.status, detail=self.detail
        )


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.document().model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def idempotency_key(
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str:
    if not key:
        raise Problem(
            400,
            "idempotency-key-missing",
            "Idempotency-Key header required",
            "a create request must carry an Idempotency-Key header so a retry cannot repeat it",
        )
    return key


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error, including FastAPI's own 404/405/422, through one problem shape,
    so our clients never have to parse two error formats."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return problem_response(Problem(422, "validation-error", "Invalid request", fields))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = "not-found" if exc.status_code == 404 else f"http-{exc.status_code}"
        return problem_response(Problem(exc.status_code, code, str(exc.detail)))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
