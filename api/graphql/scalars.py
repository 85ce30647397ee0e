"""The DateTime scalar: an instant with a UTC offset, on the way in and on the way out.

Strawberry's built-in DateTime takes a naive ``2030-01-07T09:00:00`` and leaves the
resolver to guess the zone; REST refuses it (422), and so does this scalar, with the same
words and the same rule (``application.identifiers.Instant``: RFC 3339, offset required)."""

from __future__ import annotations

from datetime import UTC, datetime

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition, scalar

from application.identifiers import DATE_TIME_MESSAGE, instant


def parse_date_time(value: object) -> datetime:
    """A client's DateTime. Refusals are StrawberryInputCoercionError (a GraphQLError), so
    they reach the client as input errors with this message, never as internal ones."""
    try:
        return instant(value)
    except ValueError:
        raise StrawberryInputCoercionError(f"DateTime {DATE_TIME_MESSAGE}") from None


def serialize_date_time(value: datetime) -> str:
    # Instants are stored in UTC (ARCHITECTURE §3); a naive one read back from storage is
    # that UTC instant, so it leaves with its offset too, never as a local-looking time.
    aware = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    return aware.isoformat()


DATE_TIME: ScalarDefinition = scalar(
    name="DateTime",
    description="An instant: an ISO 8601 / RFC 3339 date-time string WITH a UTC offset, "
    "e.g. 2030-01-07T09:00:00+01:00 or 2030-01-07T08:00:00Z. Without an offset it is refused.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339#section-5.6",
    serialize=serialize_date_time,
    parse_value=parse_date_time,
)

# For StrawberryConfig(scalar_map=...): every ``datetime`` in the schema is this scalar.
SCALARS: dict[object, ScalarDefinition] = {datetime: DATE_TIME}
