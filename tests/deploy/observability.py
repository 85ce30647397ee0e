"""The alert rules and the dashboard of deploy/observability, and the metric names their
PromQL uses: read by the shape checks (tests/deploy/test_observability.py) and by the
check against what the running service exposes (tests/e2e/test_observability.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.tools import DEPLOY

OBSERVABILITY = DEPLOY / "observability"
RULES_FILE = OBSERVABILITY / "alerts.yaml"
DASHBOARD_FILE = OBSERVABILITY / "dashboard.json"

# PromQL words that look like metric names but are not (aggregations and functions are
# recognised by the parenthesis that follows them).
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
     "group_left", "group_right", "inf", "nan", "atan2"}
)  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: every identifier that is not a
    function or aggregation (followed by a parenthesis), a keyword, a label name (inside
    ``{}`` or a ``by (...)`` clause), a string or a duration."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(text)
        if match.group(2) is None and match.group(1) not in _KEYWORDS
    }


def rules_document() -> Any:
    return yaml.safe_load(RULES_FILE.read_text())


def dashboard_document() -> Any:
    return json.loads(DASHBOARD_FILE.read_text())


def alert_expressions() -> dict[str, str]:
    """alert name -> its expression."""
    return {
        rule["alert"]: rule["expr"]
        for group in rules_document()["groups"]
        for rule in group["rules"]
    }


def panel_expressions() -> dict[str, str]:
    """ "panel title / refId" -> its query, for every panel (rows' own panels too)."""
    found: dict[str, str] = {}

    def visit(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                found[f"{panel['title']} / {target['refId']}"] = target["expr"]
            visit(panel.get("panels", []))

    visit(dashboard_document()["panels"])
    return found


def used_metrics() -> dict[str, set[str]]:
    """metric name -> where it is used (alerts and panels)."""
    used: dict[str, set[str]] = {}
    for where, expr in {**alert_expressions(), **panel_expressions()}.items():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(where)
    return used


# The series names each metric type exposes (a family with no child yet still exposes
# its HELP and TYPE; the series then appear with the first labels).
_SERIES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def exposed_names(exposition: str) -> set[str]:
    """Every series name a /metrics page exposes or declares."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SERIES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names
