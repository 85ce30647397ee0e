"""The live journeys' part of the benchmark: its targets (judged only at 10,000 journeys,
printed beside the figures, never asserted), its table, its options, and the journeys it
starts (on a fake client: what the server is asked to start)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.__main__ import options_from, parser
from bench.journeys import AHEAD, Footprint, JourneysReport, start_journeys
from bench.report import Target, journey_targets, render_journeys, render_report
from config import load_settings
from domain.status import AppointmentStatus
from tests.unit.bench.test_report import full_report
from workflows.contracts import journey
from workflows.contracts.journey import JourneyRequest
from workflows.search_attributes import APPOINTMENT_ID


def footprint(worker_rss: float, worker_cpu: float, temporal_cpu: float, live: int) -> Footprint:
    return Footprint(
        rss_mib={"worker": worker_rss, "temporal": 400.0},
        peak_rss_mib={"worker": worker_rss + 10, "temporal": 450.0},
        idle_cpu_percent={"worker": worker_cpu, "temporal": temporal_cpu},
        live_journeys=live,
    )


def measured(count: int, worker_rss: float = 250.0, worker_cpu: float = 1.5) -> JourneysReport:
    return JourneysReport(
        count=count,
        idle_seconds=30.0,
        start_seconds=40.0,
        settle_seconds=90.0,
        before=footprint(150.0, 0.5, 2.0, 12),
        after=footprint(worker_rss, worker_cpu, 7.5, count + 12),
        history_events=6,
        history_kinds=["workflow_execution_started", "timer_started"],
    )


def by_name(targets: list[Target]) -> dict[str, Target]:
    return {t.name: t for t in targets}


def test_at_ten_thousand_journeys_the_targets_are_judged() -> None:
    targets = by_name(journey_targets(measured(10_000)))
    assert targets["worker RSS, 10,000 live journeys"].met is True
    assert targets["worker idle CPU, 10,000 live journeys"].met is True
    assert targets["temporal idle CPU, 10,000 live journeys"].met is False  # 7.5 %
    server = targets["temporal RSS, 10,000 live journeys"]  # measured, without a bound
    assert (server.measured, server.met, server.judged) == (400.0, None, False)
    missed = by_name(journey_targets(measured(10_000, worker_rss=320.0, worker_cpu=6.0)))
    assert missed["worker RSS, 10,000 live journeys"].met is False
    assert missed["worker idle CPU, 10,000 live journeys"].met is False


def test_fewer_journeys_are_reported_not_judged() -> None:
    targets = journey_targets(measured(1_000, worker_rss=900.0))
    assert all(t.met is None for t in targets)
    assert "only 1,000 journeys started: not judged" in targets[0].note
    assert targets[0].measured == 900.0


def test_not_measured_is_neither_met_nor_missed() -> None:
    targets = by_name(journey_targets(None))
    assert list(targets) == [
        "worker RSS, 10,000 live journeys",
        "temporal RSS, 10,000 live journeys",
        "worker idle CPU, 10,000 live journeys",
        "temporal idle CPU, 10,000 live journeys",
    ]
    assert all(t.met is None and t.note == "journeys not run" for t in targets.values())


def test_the_table_shows_before_and_after_for_the_worker_and_the_server() -> None:
    text = "\n".join(render_journeys(measured(10_000)))
    assert "Live journeys: 10,000 started in 40 s, all idle after 90 s" in text
    rows = [line.split() for line in text.splitlines() if "worker" in line or "temporal" in line]
    assert ["after", "(10,012", "live)", "worker", "250.0", "260.0", "1.5"] in rows
    assert ["before", "(12", "live)", "temporal", "400.0", "450.0", "2.0"] in rows
    assert "history of an idle journey: 6 events" in text


def test_the_printed_report_includes_the_journeys_and_reads_back(tmp_path: Any) -> None:
    report = full_report()
    report.journeys = measured(10_000)
    report.targets += journey_targets(report.journeys)
    text = render_report(report)
    assert "Live journeys:" in text
    assert "worker RSS, 10,000 live journeys" in text
    assert type(report).model_validate_json(report.model_dump_json()) == report


def test_ten_thousand_by_default_a_thousand_when_quick_explicit_wins() -> None:
    assert options_from(parser().parse_args([])).journeys == 10_000
    assert options_from(parser().parse_args([])).idle_seconds == 30.0
    quick = options_from(parser().parse_args(["--quick"]))
    assert (quick.journeys, quick.idle_seconds) == (1_000, 10.0)
    assert options_from(parser().parse_args(["--quick", "--journeys", "0"])).journeys == 0


class FakeClient:
    def __init__(self) -> None:
        self.started: list[tuple[JourneyRequest, dict[str, Any]]] = []

    async def start_workflow(self, workflow: str, request: JourneyRequest, **options: Any) -> Any:
        assert workflow == journey.WORKFLOW
        self.started.append((request, options))

        class Handle:
            id = options["id"]

        return Handle()


async def test_the_journeys_are_far_ahead_distinct_and_findable() -> None:
    client, now = FakeClient(), datetime(2030, 1, 7, 9, 30, tzinfo=UTC)
    settings = load_settings()
    ids = await start_journeys(client, settings, 5, now=now, progress=lambda _: None)  # type: ignore[arg-type]

    assert len(set(ids)) == 5
    requests = [request for request, _ in client.started]
    assert len({r.facts.start for r in requests}) == 5
    for request, options in client.started:
        assert request.facts.status is AppointmentStatus.SCHEDULED
        # No reminder is due while measured: the first is a day before a start 300 days on.
        assert request.facts.start >= now + AHEAD - timedelta(hours=1)
        assert options["id"] == journey.workflow_id(request.appointment_id)
        assert options["task_queue"] == settings.temporal_task_queue
        assert options["search_attributes"].get(APPOINTMENT_ID) == request.appointment_id
