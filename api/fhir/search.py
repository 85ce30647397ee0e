"""FHIR search on this door: strict parameters, ``_count`` paging with a keyset ``_cursor``,
date prefixes, and the ``searchset`` Bundle every search answers.

Strict always, as ``Prefer: handling=strict`` asks: a parameter the resource does not
declare (its capability entry, api/fhir/capability.py) is refused with 400 ``invalid``,
never ignored, so a misspelt filter never silently widens the result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.fhir.outcome import FHIR_BASE
from api.fhir.resources import Bundle, BundleEntry, BundleLink, BundleSearch
from api.problems import ProblemError

# Parameters every search takes: the page size, the page (a cursor of ours) and the format.
COMMON = frozenset({"_count", "_cursor", "_format"})
DEFAULT_COUNT, MAX_COUNT = 20, 100
MAX_CURSOR = 512
DATE_PREFIXES = ("eq", "ge", "gt", "le", "lt")
Q = TypeVar("Q", bound=BaseModel)


def query_of(model: type[Q], fields: Mapping[str, object]) -> Q:
    """A search's query for its use case, validated by the use case's own command model;
    400 ``invalid`` naming what the model refused."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        detail = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise invalid(detail) from None


def invalid(detail: str) -> ProblemError:
    """A bad search or request parameter: 400, issue ``invalid``."""
    return ProblemError(400, "invalid-search", "Invalid search", detail)


def parameters(request: Request, declared: Iterable[str]) -> dict[str, list[str]]:
    """The query's parameters by name; 400 ``invalid`` for one not ``declared`` (nor
    common), with a modifier (``name:exact``) or empty."""
    allowed = COMMON | frozenset(declared)
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise invalid(f"unknown search parameter {name!r}: this server knows {known}")
        if value == "":
            raise invalid(f"search parameter {name!r} is empty")
        found.setdefault(name, []).append(value)
    return found


def single(found: Mapping[str, list[str]], name: str) -> str | None:
    values = found.get(name, [])
    if len(values) > 1:
        raise invalid(f"{name} may be given once")
    return values[0] if values else None


def count(found: Mapping[str, list[str]]) -> int:
    """``_count``: 1 to 100, 20 when absent."""
    value = single(found, "_count")
    if value is None:
        return DEFAULT_COUNT
    if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
        raise invalid(f"_count must be a whole number from 1 to {MAX_COUNT}")
    return int(value)


def cursor(found: Mapping[str, list[str]]) -> str | None:
    value = single(found, "_cursor")
    if value is not None and len(value) > MAX_CURSOR:
        raise invalid("_cursor is not one this server issued")
    return value


@dataclass(frozen=True, slots=True)
class Bounds:
    """Instants in [lower, upper); None is open. ``empty`` when no instant can match."""

    lower: datetime | None = None
    upper: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.lower is not None and self.upper is not None and self.lower >= self.upper

    def narrowed(self, lower: datetime | None, upper: datetime | None) -> Bounds:
        lo = max(x for x in (self.lower, lower) if x is not None) if (self.lower or lower) else None
        hi = min(x for x in (self.upper, upper) if x is not None) if (self.upper or upper) else None
        return Bounds(lo, hi)


def _range(text: str, zone: ZoneInfo, name: str) -> tuple[datetime, datetime]:
    """The instants a date or date-time value stands for: a day in ``zone`` (a date
    without a time zone is the clinic's), or an instant with an offset, to the second."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            lower = datetime.combine(day, time(0), tzinfo=zone)
            return lower, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"{name}: {text!r} is neither a date (YYYY-MM-DD) nor an instant") from None
    if moment.utcoffset() is None:
        raise invalid(f"{name}: the instant {text!r} needs a UTC offset (e.g. +01:00 or Z)")
    return moment, moment + timedelta(seconds=1)


def date_bounds(values: Iterable[str], zone: ZoneInfo, name: str = "date") -> Bounds:
    """The instants that every one of ``values`` (``ge2030-01-01``, ``lt2030-01-08T09:00Z``,
    ``2030-01-07``) admits, after FHIR's prefixes ``eq``, ``ge``, ``gt``, ``le`` and ``lt``
    (no prefix: ``eq``). Any other prefix is refused."""
    bounds = Bounds()
    for value in values:
        prefix, text = ("eq", value) if value[:1].isdigit() else (value[:2], value[2:])
        if prefix not in DATE_PREFIXES:
            raise invalid(f"{name}: unsupported prefix {prefix!r} (use {', '.join(DATE_PREFIXES)})")
        lower, upper = _range(text, zone, name)
        bounds = bounds.narrowed(
            *{
                "eq": (lower, upper),
                "ge": (lower, None),
                "gt": (upper, None),
                "lt": (None, lower),
                "le": (None, upper),
            }[prefix]
        )
    return bounds


def searchset(
    request: Request,
    resource_type: str,
    resources: list[dict[str, object]],
    total: int | None,
    next_cursor: str | None,
) -> Bundle:
    """The searchset Bundle: ``total`` matches (None: not counted, left out), this page's
    ``resources`` as ``match`` entries, a ``self`` link and, if another page follows,
    ``next`` (the same search with its ``_cursor``)."""
    base = str(request.base_url).rstrip("/") + FHIR_BASE
    links = [BundleLink(relation="self", url=str(request.url))]
    if next_cursor is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
        url = request.url.replace(query=urlencode([*query, ("_cursor", next_cursor)]))
        links.append(BundleLink(relation="next", url=str(url)))
    entries = [
        BundleEntry(
            fullUrl=f"{base}/{resource_type}/{resource['id']}",
            resource=resource,
            search=BundleSearch(mode="match"),
        )
        for resource in resources
    ]
    return Bundle(total=total, link=links, entry=entries or None)
