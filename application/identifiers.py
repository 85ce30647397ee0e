"""The identifiers and values every door accepts, each checked one way, here. A pattern
must match the WHOLE value (pydantic's patterns anchor at the very end of the text, and
``re.fullmatch`` does the same for what is not a model field), so no trailing newline,
control character or path separator ever passes: these values become URL segments of
peer calls, HTTP header values and Temporal workflow ids."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)

from application.errors import InvalidIdempotencyKey

# A peer's id (patient, doctor): letters and digits first, then also _ . : -
ENTITY_ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}"
# An Idempotency-Key, which becomes part of workflow ids and peers' idempotency keys: not
# only dots (``..`` would be a dot segment wherever a key is ever put in a path). Its length,
# 1-128, is checked beside the pattern.
IDEMPOTENCY_KEY = r"\.*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*"
MAX_KEY_LENGTH = 128
# Our appointments' ids: UUIDs, written the one canonical way (lowercase hex, 8-4-4-4-12).
APPOINTMENT_ID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

KEY_RULE = "1-128 characters of A-Z a-z 0-9 _ . : -, not only dots"

EntityId = Annotated[str, Field(pattern=f"^{ENTITY_ID}$", max_length=64)]
IdempotencyKey = Annotated[
    str, Field(pattern=f"^{IDEMPOTENCY_KEY}$", min_length=1, max_length=MAX_KEY_LENGTH)
]
AppointmentId = Annotated[
    str,
    Field(pattern=f"^{APPOINTMENT_ID}$", json_schema_extra={"format": "uuid"}),
    AfterValidator(str.lower),
]

_KEY = re.compile(IDEMPOTENCY_KEY)


def idempotency_key(value: str) -> str:
    """An Idempotency-Key as sent in a header (REST) or an argument (GraphQL); every door
    refuses a malformed one alike, before anything starts."""
    if len(value) > MAX_KEY_LENGTH or not _KEY.fullmatch(value):
        raise InvalidIdempotencyKey(f"use {KEY_RULE}")
    return value


# RFC 3339 (the JSON Schema ``date-time``): a date, ``T``, a time and an offset. Pydantic
# alone would also take Unix seconds (as a number or a string of digits) and other
# spellings the schema does not allow.
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)
DATE_TIME_MESSAGE = (
    "must be an ISO 8601 date-time string with a UTC offset, e.g. 2030-01-07T09:00:00+01:00"
)


def _rfc_3339(value: Any) -> Any:
    # A datetime is what a door already parsed (GraphQL's DateTime scalar, which applies
    # this very rule); AwareDatetime then still refuses a naive one.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError(DATE_TIME_MESSAGE)
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


# An instant: an RFC 3339 string with an offset (and only that), in UTC once validated. The
# string is parsed laxly even in a strict model (strict would take ``datetime`` only).
Instant = Annotated[
    AwareDatetime, Strict(False), BeforeValidator(_rfc_3339), AfterValidator(_in_utc)
]

_DAY = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)


def _iso_day(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD, e.g. 2030-01-07")
    return value


# A calendar day, only as YYYY-MM-DD: lax Pydantic would also read Unix seconds as a date.
Day = Annotated[date, Strict(False), BeforeValidator(_iso_day)]

_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


def instant(value: object) -> datetime:
    """``value`` checked as an ``Instant``; ValueError with the rule's words otherwise."""
    try:
        return _INSTANT.validate_python(value)
    except ValidationError:
        raise ValueError(DATE_TIME_MESSAGE) from None
