"""The mutations' input types, and how GraphQL arguments become the application's commands.

Arguments go through the very command models REST validates its bodies and query strings
with (``application.commands``): the same rules (id patterns, durations, lengths, offsets)
and the same request fingerprint, so an Idempotency-Key used over REST and then over
GraphQL with the same request joins the same saga. A refusal names the GraphQL argument
(``input.durationMinutes``), not the Python field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel, ValidationError

from application.commands import ReadAppointment
from application.errors import FieldError, InvalidInput

M = TypeVar("M", bound=BaseModel)


@strawberry.input(description="A booking: REST's POST /api/v1/appointments body.")
class BookAppointmentInput:
    patient_id: strawberry.ID = strawberry.field(description="the Patient Service's id")
    doctor_id: strawberry.ID = strawberry.field(description="the Doctor Service's id")
    start: datetime = strawberry.field(description="on the doctor's grid")
    duration_minutes: int = strawberry.field(description="a multiple of 5 minutes")
    reason: str | None = None
    over_patient_cap: bool = strawberry.field(
        default=False,
        description="staff and admin only: book even if the patient already holds the most "
        "active upcoming appointments a patient may (the event records it)",
    )


@strawberry.input(description="A move: REST's POST /api/v1/appointments/{id}/reschedule body.")
class RescheduleAppointmentInput:
    start: datetime = strawberry.field(description="the new start")
    duration_minutes: int | None = strawberry.field(
        default=None, description="the new length; the current one if absent"
    )
    reason: str | None = strawberry.field(default=None, description="why, for the audit trail")


def command(model: type[M], values: Mapping[str, Any], names: Mapping[str, str]) -> M:
    """``values`` (by the model's field names) validated by ``model``. ``names`` gives the
    GraphQL argument of a top-level field where it is not the field's camelCase (an empty
    name leaves the segment out); nested fields are camelCased."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise InvalidInput(
            [
                FieldError(
                    field=_graphql_name(e["loc"], names),
                    message=str(e["msg"]).removeprefix("Value error, "),
                )
                for e in error.errors()
            ]
        ) from None


def appointment_id(value: str) -> str:
    """An appointment's id argument, checked as REST checks its path's."""
    read = command(ReadAppointment, {"appointment_id": value}, {"appointment_id": "id"})
    return read.appointment_id


def arguments(value: object) -> dict[str, Any]:
    """An input object's fields, by their Python (snake_case) names."""
    return dict(vars(value))


def _graphql_name(location: tuple[int | str, ...], names: Mapping[str, str]) -> str:
    if not location:
        return "input"
    head, *rest = (str(part) for part in location)
    parts = [names.get(head, _camel(head)), *(_camel(part) for part in rest)]
    return ".".join(part for part in parts if part) or "input"


def _camel(name: str) -> str:
    first, *others = name.split("_")
    return first + "".join(word.title() for word in others)
