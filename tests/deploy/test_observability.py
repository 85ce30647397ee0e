"""deploy/observability: the alert rules are a valid Prometheus rule file and the
dashboard a valid Grafana dashboard (shape checked, as promtool is not at hand), and each
covers what operators need. That every metric they use exists is checked on the running
stack: tests/e2e/test_observability.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.observability import (
    alert_expressions,
    dashboard_document,
    metric_names,
    panel_expressions,
    rules_document,
)

DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "state-timeline", "table", "bargauge"}


def balanced(expr: str) -> bool:
    depth = {"(": 0, "{": 0, "[": 0}
    closing = {")": "(", "}": "{", "]": "["}
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                return False
    return not any(depth.values())


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'max by (peer) (appointments_peer_breaker_state{state="open"}) == 1',
            {"appointments_peer_breaker_state"},
        ),
        (
            "histogram_quantile(0.95, sum by (le, activity) "
            "(rate(appointments_saga_step_seconds_bucket[5m])))",
            {"appointments_saga_step_seconds_bucket"},
        ),
        (
            'sum(rate(x_total{status=~"5..", a="b{c}"}[5m] offset 1h)) / on (job) '
            "group_left (le) sum(rate(y_total[1m])) > 1e3 and up2 unless bool_metric",
            {"x_total", "y_total", "up2", "bool_metric"},
        ),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_rule_file_has_the_shape_prometheus_loads() -> None:
    document = rules_document()
    assert set(document) == {"groups"}
    groups = document["groups"]
    assert groups
    assert len({group["name"] for group in groups}) == len(groups)
    alerts: list[str] = []
    for group in groups:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, rule
            name = rule["alert"]
            alerts.append(name)
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), name
            assert isinstance(rule["expr"], str), name
            assert balanced(rule["expr"]), name
            assert metric_names(rule["expr"]), f"{name} uses no metric"
            if "for" in rule:
                assert DURATION.match(rule["for"]), name
            labels: dict[str, Any] = rule["labels"]
            assert all(isinstance(v, str) for v in labels.values()), name
            assert labels["severity"] in {"warning", "critical"}, name
            annotations: dict[str, Any] = rule["annotations"]
            assert {"summary", "description"} <= set(annotations), name
            assert all(isinstance(v, str) and v.strip() for v in annotations.values()), name
    assert len(set(alerts)) == len(alerts), "alert names are unique"


def test_the_rules_alert_on_what_operators_must_act_on() -> None:
    used = {alert: metric_names(expr) for alert, expr in alert_expressions().items()}
    needed = {
        "a breaker open": "appointments_peer_breaker_state",
        "runs needing attention": "appointments_saga_needs_attention_total",
        "outbox backlog age": "appointments_outbox_oldest_age_seconds",
        "parked events": "appointments_outbox_parked",
        "projector lag": "appointments_projector_lag_seconds",
        "saga failure rate": "appointments_saga_outcomes_total",
    }
    for what, metric in needed.items():
        assert any(metric in names for names in used.values()), what
    breaker = next(
        r for g in rules_document()["groups"] for r in g["rules"] if "breaker" in r["expr"]
    )
    assert DURATION.match(breaker["for"]), "the breaker alert waits N minutes"


def test_the_dashboard_has_the_shape_grafana_imports() -> None:
    dashboard = dashboard_document()
    assert {"uid", "title", "schemaVersion", "panels", "templating"} <= set(dashboard)
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, int) for i in ids)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs, panel["title"]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert balanced(target["expr"]), panel["title"]
            assert metric_names(target["expr"]), panel["title"]


def test_the_dashboard_shows_bookings_steps_breakers_and_the_outbox() -> None:
    used = set().union(*(metric_names(expr) for expr in panel_expressions().values()))
    assert {
        "appointments_http_requests_total",  # bookings per minute by answer
        "appointments_saga_outcomes_total",  # booking sagas by outcome
        "appointments_saga_step_seconds_bucket",  # step latencies
        "appointments_peer_breaker_state",
        "appointments_outbox_oldest_age_seconds",  # outbox lag
    } <= used


def test_the_dashboard_shows_the_journeys_and_the_no_show_rate() -> None:
    panels = panel_expressions()
    used = set().union(*(metric_names(expr) for expr in panels.values()))
    assert {
        "appointments_reminders_sent_total",
        "appointments_confirmations_total",  # by channel: rest, graphql, link
        "appointments_no_shows_total",  # by who recorded them: journey, staff
        "appointments_check_ins_total",
    } <= used
    [rate] = [expr for where, expr in panels.items() if where.startswith("No-show rate")]
    # no-shows / (no-shows + check-ins)
    assert metric_names(rate) == {"appointments_no_shows_total", "appointments_check_ins_total"}
    assert rate.count("appointments_no_shows_total") == 2
