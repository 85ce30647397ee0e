"""The event contract: every Kafka value must match appointment-event.v1.schema.json.

The relay checks each envelope before it publishes it, so a broken event is parked in the
outbox (where it can be fixed) instead of reaching every consumer. The schema file ships
inside the package (pyproject's package-data) and is read once, on first use.
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


def schema() -> dict[str, Any]:
    """The contract as a JSON Schema (2020-12) document."""
    loaded = _validator().schema
    assert isinstance(loaded, Mapping), "the contract is a JSON object"
    return dict(loaded)


@cache
def _validator() -> Draft202012Validator:
    text = (resources.files("messaging") / "schemas" / SCHEMA_FILE).read_text("utf-8")
    loaded = json.loads(text)
    Draft202012Validator.check_schema(loaded)
    return Draft202012Validator(loaded, format_checker=_format_checker())


def validate_envelope(envelope: dict[str, Any]) -> None:
    """Raise ContractViolation unless ``envelope`` is a valid version-1 event."""
    errors = list(_validator().iter_errors(envelope))
    if not errors:
        return
    error = best_match(errors)
    where = "/".join(str(part) for part in error.absolute_path) or "(envelope)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ContractViolation(f"{where}: {error.message}{more}")
