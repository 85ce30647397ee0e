"""Ratios, the max sustained throughput, the targets and the printed tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    saga_p50_s: float = 0.15,
    saga_per_s: float = 8.4,
    saga_errors: tuple[int, int] = (0, 0),
    cpu: Sequence[tuple[dict[str, float], dict[str, float]]] = (),
) -> BookingReport:
    """Levels 1 and 4: the baseline makes 10 then 12 bookings/s at p50 100 then 300 ms; the
    saga half ``saga_per_s`` then all of it, at ``saga_p50_s`` then twice that."""
    baseline = [run(1, 0.1, 10.0), run(4, 0.3, 12.0)]
    saga = [
        run(1, saga_p50_s, saga_per_s / 2, saga_errors[0]),
        run(4, saga_p50_s * 2, saga_per_s, saga_errors[1]),
    ]
    return booking_report(baseline, saga, 10.0, 2.0, cpu)


def cpu_use(worker: float, temporal: float) -> list[tuple[dict[str, float], dict[str, float]]]:
    """Per level (% of a core over the 10 s runs of ``booking()``'s defaults): the baseline
    spends 100 ms per booking in all (level 1: 100 bookings, 100 % of a core: 10 CPU s;
    level 4: 120 bookings, 120 %); the saga's worker and Temporal ``worker`` + ``temporal``
    % of a core at level 1 (42 bookings), twice that at level 4 (84 bookings), beside a
    busy API that is no part of the ratio."""
    level_1 = {"api": 90.0, "worker": worker, "temporal": temporal}
    level_4 = {"api": 90.0, "worker": 2 * worker, "temporal": 2 * temporal}
    return [
        ({"bench": 60.0, "mongo": 30.0, "worker": 5.0, "temporal": 5.0}, level_1),
        ({"bench": 80.0, "mongo": 40.0}, level_4),
    ]


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


P50 = "booking p50, saga / baseline, every level"
THROUGHPUT = "sustained bookings/s, saga / baseline"
CPU = "worker + Temporal CPU per booking / baseline's whole"
LAG = "outbox lag p99, each level 1-16"
WHOLE_LAG = "outbox lag p99, the whole saga load"


def outbox_levels(*p99s: tuple[int, float]) -> dict[int, OutboxFigures]:
    return {level: outbox(p99) for level, p99 in p99s}


def test_targets_met() -> None:
    measured = booking(cpu=cpu_use(worker=10.0, temporal=11.0))
    lags = outbox_levels((1, 50.0), (4, 120.0), (16, 199.0))
    targets = by_name(evaluate_targets(measured, reads(12.0), outbox(150.0), lags))
    assert targets[P50].met is True  # exactly 1.5x at level 1, 1x at level 4
    assert targets[P50].measured == 1.5  # the worst level
    assert "concurrency 1" in targets[P50].note
    assert "per level 1: 1.50x, 4: 1.00x" in targets[P50].note
    assert targets[THROUGHPUT].met is True  # exactly 0.7: 8.4/s vs 12/s
    assert targets[CPU].met is True  # exactly 0.5x: 50 vs 100 ms per booking
    assert targets["REST schedule, 1 week: p99"].met is True
    assert targets[LAG].met is True
    assert targets[LAG].measured == 199.0


def test_targets_missed() -> None:
    slow = booking(saga_p50_s=0.4, saga_per_s=4.0, cpu=cpu_use(worker=15.0, temporal=10.0))
    lags = outbox_levels((1, 50.0), (4, 120.0), (16, 200.0))
    targets = by_name(evaluate_targets(slow, reads(25.0), outbox(150.0), lags))
    assert targets[P50].met is False  # 4x
    assert targets[THROUGHPUT].met is False  # 1/3
    assert targets[CPU].met is False  # 25 % of a core over 10 s / 20 bookings: 125 ms
    assert targets[CPU].measured == 1.25
    assert targets["REST schedule, 1 week: p99"].met is False
    assert targets[LAG].met is False  # at 16: the goal is strictly below 200 ms


def test_the_p50_ratio_is_judged_at_every_level_not_only_the_best() -> None:
    # level 4 well within 1.5x (320 ms vs 300 ms), level 1 at 1.6x (160 ms vs 100 ms)
    targets = by_name(evaluate_targets(booking(saga_p50_s=0.16), None, None))
    assert targets[P50].met is False
    assert targets[P50].measured == 1.6
    assert "concurrency 1 (160.0 vs 100.0 ms)" in targets[P50].note


def test_the_cpu_per_booking_of_each_level_and_its_ratio() -> None:
    first, second = booking(cpu=cpu_use(worker=10.0, temporal=11.0)).levels
    # level 1: the baseline's 100 % of a core over 10 s / 100 bookings
    assert first.baseline_cpu_ms_per_booking == 100.0
    # the saga's 21 % (worker + Temporal) over 10 s / 42 bookings; with the API's 90 %
    assert first.saga_orchestration_cpu_ms_per_booking == 50.0
    assert first.saga_cpu_ms_per_booking == pytest.approx(264.29)
    assert first.cpu_ratio == 0.5
    assert second.baseline_cpu_ms_per_booking == 100.0  # 120 % over 10 s / 120 bookings
    assert second.saga_orchestration_cpu_ms_per_booking == 50.0  # 42 % / 84 bookings
    assert second.cpu_ratio == 0.5


def test_the_cpu_target_judges_the_worst_level() -> None:
    uses = cpu_use(worker=10.0, temporal=11.0)
    uses[1][1]["worker"] = 63.0  # level 4: (63 + 22) % over 10 s / 84 bookings
    targets = by_name(evaluate_targets(booking(cpu=uses), None, None))
    cpu = targets[CPU]
    assert cpu.met is False
    assert cpu.measured == pytest.approx(1.012)
    assert "the worst level, concurrency 4 (101.2 vs 100.0 CPU ms per booking)" in cpu.note
    assert "per level 1: 0.50x, 4: 1.01x" in cpu.note


def test_without_the_worker_or_temporal_measured_the_cpu_target_is_not_judged() -> None:
    uses = [(base, {"api": saga["api"]}) for base, saga in cpu_use(10.0, 11.0)]
    for measured in (booking(), booking(cpu=uses)):
        target = by_name(evaluate_targets(measured, None, None))[CPU]
        assert target.met is None
        assert target.measured_text == "n/a"


def test_the_outbox_lag_is_judged_up_to_16_and_32_is_only_listed() -> None:
    lags = outbox_levels((1, 50.0), (4, 120.0), (16, 180.0), (32, 520.0))
    targets = by_name(evaluate_targets(booking(), None, outbox(300.0), lags))
    lag = targets[LAG]
    assert lag.met is True
    assert lag.measured == 180.0
    assert "the worst level, concurrency 16" in lag.note
    assert "per level 1: 50 ms, 4: 120 ms, 16: 180 ms, 32: 520 ms (not judged)" in lag.note
    whole = targets[WHOLE_LAG]  # the first round's figure: reported, not judged
    assert (whole.measured, whole.met, whole.judged) == (300.0, None, False)


def test_a_missed_lag_at_a_low_level_is_missed() -> None:
    lags = outbox_levels((1, 250.0), (4, 120.0), (16, 180.0))
    lag = by_name(evaluate_targets(booking(), None, outbox(180.0), lags))[LAG]
    assert lag.met is False
    assert lag.measured == 250.0


def test_what_was_not_measured_is_neither_met_nor_missed() -> None:
    erring = booking(saga_errors=(1, 1))
    targets = by_name(evaluate_targets(erring, None, None))
    assert targets[THROUGHPUT].met is None
    assert targets["schedule reads p99"].met is None
    assert targets[LAG].met is None
    assert targets[LAG].measured_text == "n/a"
    assert targets[WHOLE_LAG].measured_text == "n/a"


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
    r = reads(12.0)
    o = outbox(150.0)
    uses = cpu_use(worker=10.0, temporal=11.0)
    b = booking(cpu=uses)
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
        targets=evaluate_targets(b, r, o, outbox_levels((1, 50.0), (4, 120.0))),
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
    booking_table = text[: text.index("CPU during")]
    saga_rows = [line for line in booking_table.splitlines() if line.split()[1:2] == ["saga"]]
    assert len(saga_rows) == 2
    assert saga_rows[0].split()[-2:] == ["1.50x", "0.42x"]


def test_the_cpu_of_each_run_is_a_table_with_a_total() -> None:
    report = full_report()
    report.booking = booking(
        cpu=[({"bench": 95.0, "api": 0.0}, {"bench": 20.0, "api": 40.0}), ({}, {})]
    )
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


def test_the_cpu_per_booking_is_a_table_per_level() -> None:
    text = render_report(full_report())
    text = text[text.index("CPU per successful booking") :]
    header = next(line for line in text.splitlines() if line.startswith("conc"))
    assert header.split() == [
        "conc",
        "baseline",
        "ms",
        "saga",
        "ms",
        "worker+temporal",
        "ms",
        "ratio",
    ]
    level_1 = next(line for line in text.splitlines() if line.split()[:1] == ["1"])
    assert level_1.split() == ["1", "100.0", "264.3", "50.0", "0.50x"]


def test_the_targets_table_says_what_is_only_reported() -> None:
    text = render_report(full_report())
    text = text[text.index("Targets (reported") :]
    whole = next(line for line in text.splitlines() if line.startswith(WHOLE_LAG))
    assert "reported" in whole.split("ms", 1)[1]
    cpu = next(line for line in text.splitlines() if line.startswith(CPU))
    assert "0.50x" in cpu
    assert " met " in cpu


NEW_LEVEL_FIELDS = (
    "baseline_cpu_ms_per_booking",
    "saga_cpu_ms_per_booking",
    "saga_orchestration_cpu_ms_per_booking",
    "cpu_ratio",
)


def test_a_report_written_before_the_cpu_per_booking_reads_back_with_it(tmp_path: Path) -> None:
    raw = json.loads(full_report().model_dump_json())
    for level in raw["booking"]["levels"]:
        for field in NEW_LEVEL_FIELDS:
            del level[field]
    for target in raw["targets"]:
        del target["judged"]
    old = BenchReport.model_validate(raw)
    assert old.booking.levels[0].cpu_ratio == 0.5
    assert old.booking.levels[1].baseline_cpu_ms_per_booking == 100.0
    assert all(t.judged for t in old.targets)
