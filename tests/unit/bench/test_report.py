"""Ratios, the max sustained throughput, the targets and the printed tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.memory import ProcessMemory
from bench.outbox import OutboxFigures
from bench.reads import ExplainPlan, ReadFigures, ViewFill
from bench.report import (
    BenchReport,
    BookingReport,
    MachineInfo,
    Options,
    ReadsReport,
    Target,
    booking_report,
    evaluate_targets,
    max_sustained,
    ratio,
    render_report,
    render_table,
    write_json,
)
from bench.stats import Summary, summarize


def run(concurrency: int, p50_s: float, per_s: float, errors: int = 0) -> Summary:
    """A run of 10 s whose successes all took ``p50_s``."""
    ok = round(per_s * 10)
    return summarize([p50_s] * ok, errors, 10.0, concurrency)


def booking(
    saga_p50_s: float = 0.2, saga_per_s: float = 6.0, saga_errors: tuple[int, int] = (0, 0)
) -> BookingReport:
    baseline = [run(1, 0.1, 10.0), run(4, 0.3, 12.0)]
    saga = [
        run(1, saga_p50_s, saga_per_s / 2, saga_errors[0]),
        run(4, saga_p50_s * 2, saga_per_s, saga_errors[1]),
    ]
    return booking_report(baseline, saga, 10.0, 2.0)


def outbox(p99: float | None) -> OutboxFigures:
    return OutboxFigures(
        scope="committed during the saga load",
        count=0 if p99 is None else 100,
        p50_ms=None if p99 is None else p99 / 2,
        p95_ms=p99,
        p99_ms=p99,
        max_ms=p99,
        produced_p50_ms=None,
        produced_p99_ms=None,
    )


def reads(p99_ms: float, rows: int = 100_000) -> ReadsReport:
    fill = ViewFill(
        rows_before=0,
        inserted=rows,
        rows_after=rows,
        seconds=40.0,
        first_day=date(2025, 1, 1),
        last_day=date(2025, 12, 31),
    )
    summary = summarize([p99_ms / 1000] * 10, 0, 10.0, 8)
    query = ReadFigures(
        name="REST schedule, 1 week",
        window_days=7,
        summary=summary,
        rows_mean=250.0,
        rows_min=200,
        rows_max=300,
    )
    plan = ExplainPlan(
        label="as sent (hinted)",
        hint="doctor_start",
        winning_plan="SORT > FETCH > IXSCAN(doctor_start)",
        uses_index=True,
        returned=250,
        keys_examined=250,
        docs_examined=250,
        server_ms=3.0,
        raw_winning_plan={"stage": "SORT"},
    )
    return ReadsReport(
        concurrency=8,
        seconds=10.0,
        measure_seconds=40.0,
        fill=fill,
        explain=[plan],
        queries=[query],
    )


def by_name(targets: list[Target]) -> dict[str, Target]:
    return {t.name: t for t in targets}


def test_ratios_round_and_refuse_a_missing_or_zero_denominator() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 3.0) == 0.333
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None
    assert ratio(1.0, None) is None


def test_max_sustained_ignores_levels_with_errors() -> None:
    levels = [run(1, 0.1, 5.0), run(4, 0.2, 9.0), run(16, 0.5, 20.0, errors=1)]
    top = max_sustained(levels)
    assert top.concurrency == 4
    assert top.throughput_per_s == 9.0
    assert top.p50_ms == 200.0


def test_no_level_without_errors_has_no_max() -> None:
    top = max_sustained([run(1, 0.1, 5.0, errors=2)])
    assert top.concurrency is None
    assert top.throughput_per_s is None


def test_booking_ratios_per_level_and_at_the_max() -> None:
    report = booking(saga_p50_s=0.2, saga_per_s=6.0)
    first, second = report.levels
    assert first.p50_ratio == 2.0  # 200 ms vs 100 ms
    assert first.throughput_ratio == 0.3  # 3/s vs 10/s
    assert second.p50_ratio == pytest.approx(1.333)
    assert report.saga_max.concurrency == 4
    assert report.baseline_max.concurrency == 4
    assert report.max_throughput_ratio == 0.5
    assert report.max_p50_ratio == pytest.approx(1.333)


def test_targets_met() -> None:
    targets = by_name(evaluate_targets(booking(), reads(12.0), outbox(150.0)))
    assert targets["booking p50, saga / baseline"].met is True
    assert targets["booking p50, saga / baseline"].measured == 2.0  # the worst level
    assert "concurrency 1" in targets["booking p50, saga / baseline"].note
    assert targets["max sustained throughput, saga / baseline"].met is True  # exactly 0.5
    assert targets["REST schedule, 1 week: p99"].met is True
    assert targets["outbox lag p99"].met is True


def test_targets_missed() -> None:
    slow = booking(saga_p50_s=0.4, saga_per_s=4.0)
    targets = by_name(evaluate_targets(slow, reads(25.0), outbox(200.0)))
    assert targets["booking p50, saga / baseline"].met is False  # 4x
    assert targets["max sustained throughput, saga / baseline"].met is False  # 1/3
    assert targets["REST schedule, 1 week: p99"].met is False
    assert targets["outbox lag p99"].met is False  # the goal is strictly below 200 ms


def test_what_was_not_measured_is_neither_met_nor_missed() -> None:
    erring = booking(saga_errors=(1, 1))
    targets = by_name(evaluate_targets(erring, None, None))
    assert targets["max sustained throughput, saga / baseline"].met is None
    assert targets["schedule reads p99"].met is None
    assert targets["outbox lag p99"].met is None
    assert targets["outbox lag p99"].measured_text == "n/a"


def test_reads_over_a_small_view_are_not_judged() -> None:
    targets = by_name(evaluate_targets(booking(), reads(5.0, rows=20_000), outbox(10.0)))
    read = targets["REST schedule, 1 week: p99"]
    assert read.met is None
    assert "20,000" in read.note


def test_a_table_aligns_numbers_right_and_text_left() -> None:
    table = render_table(["name", "p50 ms"], [["saga", "12.5"], ["baseline", "1,234.0"]])
    lines = table.splitlines()
    assert lines[0] == "name      p50 ms"
    assert lines[1] == "--------  -------"
    assert lines[2] == "saga         12.5"
    assert lines[3] == "baseline  1,234.0"


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="cells"):
        render_table(["a", "b"], [["1"]])


def full_report() -> BenchReport:
    b = booking()
    r = reads(12.0)
    o = outbox(150.0)
    return BenchReport(
        machine=MachineInfo(
            cpu_count=2,
            python="3.11.7",
            platform="Linux",
            git_commit="0123456789abcdef",
            git_dirty=False,
            load_average=(0.5, 0.4, 0.3),
            started_at=datetime(2030, 1, 7, 9, 30, tzinfo=UTC),
        ),
        options=Options(
            levels=[1, 4],
            seconds=10.0,
            warmup_seconds=2.0,
            view_size=100_000,
            read_concurrency=8,
            read_seconds=10.0,
            quick=False,
        ),
        wall_seconds=300.0,
        phases={"stack start": 6.0, "booking": 100.0},
        booking=b,
        reads=r,
        outbox=[o],
        memory=[
            ProcessMemory(
                name="api",
                pid=10,
                command="python -m cli api",
                peak_rss_mib=120.5,
                rss_mib=110.0,
                processes=1,
            )
        ],
        targets=evaluate_targets(b, r, o),
        notes=["a note"],
    )


def test_the_printed_report_has_every_section() -> None:
    text = render_report(full_report())
    assert "2 CPUs, Python 3.11.7" in text
    assert "commit 0123456789" in text
    assert "wall time: 300 s (stack start 6 s, booking 100 s)" in text
    assert "max sustained throughput" in text
    assert "SORT > FETCH > IXSCAN(doctor_start)" in text
    assert "committed during the saga load" in text
    assert "api" in text
    assert "120.5" in text
    assert "Targets (reported, never asserted)" in text
    assert "note: a note" in text
    saga_rows = [line for line in text.splitlines() if line.split()[1:2] == ["saga"]]
    assert len(saga_rows) == 2
    assert saga_rows[0].split()[-2:] == ["2.00x", "0.30x"]


def test_the_cpu_of_each_run_is_a_table_with_a_total() -> None:
    report = full_report()
    report.booking.levels[0].baseline_cpu = {"bench": 95.0, "api": 0.0}
    report.booking.levels[0].saga_cpu = {"bench": 20.0, "api": 40.0}
    text = render_report(report)
    assert "CPU during the measured booking runs" in text
    text = text[text.index("CPU during") :]
    header = next(line for line in text.splitlines() if line.startswith("conc"))
    assert header.split() == ["conc", "mode", "bench", "api", "total"]
    saga_row = next(line for line in text.splitlines() if line.split()[:2] == ["1", "saga"])
    assert saga_row.split() == ["1", "saga", "20", "40", "60"]
    assert "2 cores make 200%" in text


def test_the_json_report_reads_back_equal(tmp_path: Path) -> None:
    report = full_report()
    path = tmp_path / "results" / "latest.json"
    write_json(report, path)
    assert BenchReport.model_validate_json(path.read_text()) == report
