"""Errors on the FHIR door: OperationOutcomes, never problem+json.

api/problems.py renders every error of the service in one place; for a request under
``FHIR_BASE`` it renders it here, with the same status, headers and words (the problem's
detail is the issue's ``diagnostics``). ``ISSUE_CODE`` is the one table from a problem's
code (or, failing that, its status) to the FHIR issue code."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from api.fhir.resources import MEDIA_TYPE, Issue, OperationOutcome

FHIR_BASE = "/fhir/R4"

# A problem code (api/problems.py, domain/errors.py, application/errors.py) -> its FHIR
# issue code, for the codes whose status alone does not say it.
ISSUE_CODE: dict[str, str] = {
    "unauthorized": "login",
    "forbidden": "forbidden",
    "appointment-not-found": "not-found",
    "not-found": "not-found",
    "doctor-not-found": "not-found",
    "slot-unavailable": "conflict",
    # IHE ITI Scheduling: a $hold (or $book) of a slot no longer free (application/holds.py)
    "slot-no-longer-free": "not-found",
    "concurrency-conflict": "conflict",
    "too-many-requests": "throttled",
    "payload-too-large": "too-long",
    "method-not-allowed": "not-supported",
    "validation-error": "invalid",
    "invalid-search": "invalid",
    "internal-error": "exception",
    "peer-unavailable": "exception",
    "service-unavailable": "exception",
}
# The status -> issue code of every other problem.
ISSUE_CODE_FOR_STATUS: dict[int, str] = {
    400: "invalid",
    401: "login",
    402: "business-rule",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-long",
    422: "invalid",
    429: "throttled",
    500: "exception",
    503: "exception",
}
# Problems whose outcome is ``fatal`` rather than ``error``: the server could not go on.
FATAL_CODES = frozenset({"internal-error", "slot-no-longer-free"})


def on_fhir_door(path: str) -> bool:
    return path == FHIR_BASE or path.startswith(FHIR_BASE + "/")


def issue_code(code: str, status: int) -> str:
    """The FHIR issue code of the problem ``code`` answered with ``status``."""
    if code in ISSUE_CODE:
        return ISSUE_CODE[code]
    if status in ISSUE_CODE_FOR_STATUS:
        return ISSUE_CODE_FOR_STATUS[status]
    return "exception" if status >= 500 else "processing"


def outcome(
    status: int,
    code: str,
    diagnostics: str,
    *,
    severity: str | None = None,
    expression: list[str] | None = None,
) -> OperationOutcome:
    """One issue: its FHIR code from the tables, ``error`` unless ``severity`` (or the
    problem) says ``fatal``."""
    return OperationOutcome(
        issue=[
            Issue(
                severity=severity or ("fatal" if code in FATAL_CODES else "error"),
                code=issue_code(code, status),
                diagnostics=diagnostics,
                expression=expression or None,
            )
        ]
    )


def outcome_response(
    status: int,
    code: str,
    diagnostics: str,
    *,
    headers: dict[str, str] | None = None,
    severity: str | None = None,
    expression: list[str] | None = None,
) -> JSONResponse:
    """The OperationOutcome answer: ``status``, ``application/fhir+json``, ``headers``."""
    body = outcome(status, code, diagnostics, severity=severity, expression=expression)
    return JSONResponse(body.dump(), status_code=status, media_type=MEDIA_TYPE, headers=headers)
