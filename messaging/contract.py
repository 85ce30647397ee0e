"""The event contract: every Kafka value must match its family's schema:
appointment-event.v1.schema.json, or waitlist-event.v1.schema.json for the ``waitlist.*``
types (``schema_for``).

The relay checks each envelope before it publishes it, so a broken event is parked in the
outbox (where it can be fixed) instead of reaching every consumer. The schema file ships
files ship inside the package (pyproject's package-data) and are read once, on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

SCHEMA_FILE = "appointment-event.v1.schema.json"
WAITLIST_SCHEMA_FILE = "waitlist-event.v1.schema.json"
# An event's family is the prefix of its type: ``waitlist.offered`` is a waitlist event;
# every other type (and an envelope without one) is held to the appointment contract.
WAITLIST_TYPE_PREFIX = "waitlist."

# RFC 3339 date-time with a mandatory offset. jsonschema checks the "date-time" format only
# when the optional rfc3339-validator package is installed; this check makes the contract
# hold without it (an instant without an offset is exactly what ARCHITECTURE §3 refuses).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


class ContractViolation(ValueError):
    """An envelope does not match the event contract; the message says where and why."""


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats apply to strings only; "type" refuses the rest
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False  # well formed but impossible, such as month 13
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker()  # the formats jsonschema checks with what is installed
    checker.checks("date-time")(_is_rfc3339)
    return checker


def schema_file(event_type: object) -> str:
    """The schema file an event of ``event_type`` must match."""
    is_waitlist = isinstance(event_type, str) and event_type.startswith(WAITLIST_TYPE_PREFIX)
    return WAITLIST_SCHEMA_FILE if is_waitlist else SCHEMA_FILE


def schema_for(event_type: object) -> dict[str, Any]:
    """The contract of ``event_type``'s family as a JSON Schema (2020-12) document."""
    loaded = _validator(schema_file(event_type)).schema
    assert isinstance(loaded, Mapping), "the contract is a JSON object"
    return dict(loaded)


def schema() -> dict[str, Any]:
    """The appointment events' contract as a JSON Schema (2020-12) document."""
    return schema_for(None)


def waitlist_schema() -> dict[str, Any]:
    """The waitlist events' contract as a JSON Schema (2020-12) document."""
    return schema_for(WAITLIST_TYPE_PREFIX)


@cache
def _validator(file: str = SCHEMA_FILE) -> Draft202012Validator:
    text = (resources.files("messaging") / "schemas" / file).read_text("utf-8")
    loaded = json.loads(text)
    Draft202012Validator.check_schema(loaded)
    return Draft202012Validator(loaded, format_checker=_format_checker())


def validate_envelope(envelope: dict[str, Any]) -> None:
    """Raise ContractViolation unless ``envelope`` is a valid version-1 event of its
    family (``schema_for`` its ``type``)."""
    validator = _validator(schema_file(envelope.get("type")))
    errors = list(validator.iter_errors(envelope))
    if not errors:
        return
    error = best_match(errors)
    where = "/".join(str(part) for part in error.absolute_path) or "(envelope)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ContractViolation(f"{where}: {error.message}{more}")
