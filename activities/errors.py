"""How our errors cross into Temporal: a business refusal becomes a non-retryable
ApplicationError whose ``type`` names the domain error; anything else is left to the
retry policy (a transient fault)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.exceptions import ApplicationError

from domain.errors import BUSINESS_ERRORS, DomainError

# Listed in every retry policy's non_retryable_error_types too, so the rule holds even if
# an error escapes without going through refusals_are_final.
NON_RETRYABLE_TYPES: list[str] = [cls.__name__ for cls in BUSINESS_ERRORS]


def as_application_error(error: DomainError) -> ApplicationError:
    return ApplicationError(
        error.detail,
        {"code": error.code, "title": error.title, "detail": error.detail},
        type=type(error).__name__,
        non_retryable=True,
    )


@asynccontextmanager
async def refusals_are_final() -> AsyncIterator[None]:
    try:
        yield
    except DomainError as error:
        raise as_application_error(error) from error
