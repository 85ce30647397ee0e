"""The mutations' input types, and their conversion into REST's input models.

A mutation's arguments go through the very Pydantic model REST validates its body with
(``api/schemas.py``): the same rules (id patterns, durations, lengths, offsets) and the
same request fingerprint, so an Idempotency-Key used over REST and then over GraphQL
with the same request joins the same saga."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel, ValidationError

from api.graphql.errors import InvalidInput
from api.problems import FieldError

M = TypeVar("M", bound=BaseModel)


@strawberry.input(description="A booking: REST's POST /api/v1/appointments body.")
class BookAppointmentInput:
    patient_id: strawberry.ID = strawberry.field(description="the Patient Service's id")
    doctor_id: strawberry.ID = strawberry.field(description="the Doctor Service's id")
    start: datetime = strawberry.field(description="on the doctor's grid")
    duration_minutes: int = strawberry.field(description="a multiple of 5 minutes")
    reason: str | None = None


@strawberry.input(description="A move: REST's POST /api/v1/appointments/{id}/reschedule body.")
class RescheduleAppointmentInput:
    start: datetime = strawberry.field(description="the new start")
    duration_minutes: int | None = strawberry.field(
        default=None, description="the new length; the current one if absent"
    )
    reason: str | None = strawberry.field(default=None, description="why, for the audit trail")


def to_model(model: type[M], values: Mapping[str, Any], argument: str | None = None) -> M:
    """``values`` (snake_case, as Strawberry hands them over) validated by ``model``.
    Refusals name the GraphQL argument: ``input.durationMinutes``."""
    # REST's models take a date-time only as the RFC 3339 string it arrives as; the
    # DateTime scalar already checked that string and made it an aware datetime.
    plain = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
    try:
        return model.model_validate(plain)
    except ValidationError as error:
        raise InvalidInput(
            [
                FieldError(
                    field=_graphql_name(argument, e["loc"]),
                    message=str(e["msg"]).removeprefix("Value error, "),
                )
                for e in error.errors()
            ]
        ) from None


def arguments(value: object) -> dict[str, Any]:
    """An input object's fields, by their Python (snake_case) names."""
    return dict(vars(value))


def _graphql_name(argument: str | None, location: tuple[int | str, ...]) -> str:
    parts = [_camel(str(part)) for part in location]
    return ".".join([argument, *parts] if argument else parts) or (argument or "input")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)
