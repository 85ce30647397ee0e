"""The FHIR door's media type: it answers ``application/fhir+json`` (and serves a client
that accepts ``application/json``); ``_format`` may ask for JSON by any of its names.
Anything else (XML, Turtle) is 406 ``not-supported``, an OperationOutcome like every error
of the door."""

from __future__ import annotations

from fastapi import Request

from api.problems import ProblemError

JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
# Media ranges of an Accept header that JSON answers satisfy.
_ACCEPTED = frozenset({"application/fhir+json", "application/json", "application/*", "*/*"})


def _not_acceptable(detail: str) -> ProblemError:
    return ProblemError(406, "not-acceptable", "Not acceptable", detail)


def negotiate(request: Request) -> None:
    """Refuse a request that accepts no JSON answer (its ``_format`` or ``Accept``)."""
    for value in request.query_params.getlist("_format"):
        if value.split(";", 1)[0].strip() not in JSON_FORMATS:
            raise _not_acceptable(f"_format {value!r}: this server answers json only")
    accept = request.headers.get("accept")
    if not accept:
        return
    ranges = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    if not ranges & _ACCEPTED:
        raise _not_acceptable(
            f"Accept {accept!r}: this server answers application/fhir+json (or application/json)"
        )
