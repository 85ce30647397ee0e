"""The benchmark's report: its JSON shape (pydantic models), the targets judged against
the figures (printed beside them, never asserted), and the printed tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, model_validator

from bench.cpu import cpu_ms_per_operation
from bench.journeys import JourneysReport
from bench.memory import ProcessMemory
from bench.outbox import OutboxFigures
from bench.reads import ExplainPlan, ReadFigures, ViewFill
from bench.stats import Summary
from bench.waitlist import WaitlistReport

# The targets of issue #18 (the second round); the first round's (issue #8) were a p50
# ratio of at most 3x, a throughput ratio of at least 0.5x and the outbox lag over the
# whole saga load.
P50_RATIO_MAX = 1.5  # saga p50 at most 1.5x the baseline's, at every level measured
THROUGHPUT_RATIO_MIN = 0.7  # saga's max sustained bookings/s at least 0.7x the baseline's
# The worker's and the Temporal server's CPU per saga booking at most half of what the
# baseline spends per booking in every process (the bench process, which runs it, too).
CPU_RATIO_MAX = 0.5
ORCHESTRATION = ("worker", "temporal")
READ_P99_MS = 20.0  # schedule reads p99 below 20 ms ...
READ_VIEW_ROWS = 100_000  # ... over a view of this many appointments
OUTBOX_P99_MS = 200.0  # outbox lag p99 below 200 ms ...
OUTBOX_JUDGED_UP_TO = 16  # ... at each concurrency up to this one (higher ones: reported)
# The targets (issue #15), with 10,000 live journeys.
JOURNEYS_AT = 10_000
WORKER_RSS_MIB = 300.0  # the worker's resident memory below 300 MiB ...
IDLE_CPU_PERCENT = 5.0  # ... and its idle CPU (and the server's) below 5 % of one core
# The target (issue #16): a cancellation's answer to the first waitlist offer on Kafka.
OFFER_P99_MS = 2000.0


class MachineInfo(BaseModel):
    cpu_count: int | None
    python: str
    platform: str
    git_commit: str | None
    git_dirty: bool | None
    load_average: tuple[float, float, float] | None
    started_at: datetime


class Options(BaseModel):
    levels: list[int]
    seconds: float
    warmup_seconds: float
    view_size: int
    read_concurrency: int
    read_seconds: float
    quick: bool
    overrides: dict[str, str] = {}  # --set NAME=VALUE: settings of the service
    journeys: int = 0  # live journeys started (0: not measured)
    idle_seconds: float = 0.0  # the journeys' idle CPU window
    waitlist_samples: int = 0  # cancellations timed to their waitlist offer (0: not measured)


class BookingLevel(BaseModel):
    concurrency: int
    baseline: Summary
    saga: Summary
    p50_ratio: float | None  # saga / baseline
    throughput_ratio: float | None  # saga / baseline
    # CPU use of each process during the measured run, in % of one core
    baseline_cpu: dict[str, float] = {}
    saga_cpu: dict[str, float] = {}
    # CPU ms per successful booking, from the above (filled on validation, so that a report
    # written before these fields existed reads back with them): every process's during
    # the baseline run, every process's and the worker's + Temporal's during the saga run
    baseline_cpu_ms_per_booking: float | None = None
    saga_cpu_ms_per_booking: float | None = None
    saga_orchestration_cpu_ms_per_booking: float | None = None
    cpu_ratio: float | None = None  # saga's worker + Temporal / baseline's whole, per booking

    @model_validator(mode="after")
    def _cpu_per_booking(self) -> BookingLevel:
        b, s = self.baseline, self.saga
        self.baseline_cpu_ms_per_booking = cpu_ms_per_operation(self.baseline_cpu, b.seconds, b.ok)
        self.saga_cpu_ms_per_booking = cpu_ms_per_operation(self.saga_cpu, s.seconds, s.ok)
        self.saga_orchestration_cpu_ms_per_booking = cpu_ms_per_operation(
            self.saga_cpu, s.seconds, s.ok, ORCHESTRATION
        )
        self.cpu_ratio = ratio(
            self.saga_orchestration_cpu_ms_per_booking, self.baseline_cpu_ms_per_booking
        )
        return self


class MaxSustained(BaseModel):
    """The highest throughput among the levels without a single error."""

    concurrency: int | None
    throughput_per_s: float | None
    p50_ms: float | None


class BookingReport(BaseModel):
    seconds_per_level: float
    warmup_seconds: float
    levels: list[BookingLevel]
    baseline_max: MaxSustained
    saga_max: MaxSustained
    max_throughput_ratio: float | None
    max_p50_ratio: float | None  # at each one's max sustained level


class ReadsReport(BaseModel):
    concurrency: int
    seconds: float
    measure_seconds: float  # the explain and the reads, wall time
    fill: ViewFill
    explain: list[ExplainPlan]
    queries: list[ReadFigures]


class Target(BaseModel):
    name: str
    measured: float | None
    measured_text: str
    goal: str
    met: bool | None  # None: not measured (or not judged)
    note: str = ""
    judged: bool = True  # False: a figure the target names, reported without a bound


class BenchReport(BaseModel):
    machine: MachineInfo
    options: Options
    settings: dict[str, str | int | float | bool] = {}  # the service's, as far as they matter
    wall_seconds: float
    phases: dict[str, float]
    booking: BookingReport
    reads: ReadsReport | None
    outbox: list[OutboxFigures]
    memory: list[ProcessMemory]
    targets: list[Target]
    notes: list[str]
    journeys: JourneysReport | None = None
    waitlist: WaitlistReport | None = None


# --- the figures -------------------------------------------------------------------------


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def max_sustained(levels: Sequence[Summary]) -> MaxSustained:
    clean = [s for s in levels if s.errors == 0 and s.count > 0]
    if not clean:
        return MaxSustained(concurrency=None, throughput_per_s=None, p50_ms=None)
    best = max(clean, key=lambda s: s.throughput_per_s)
    return MaxSustained(
        concurrency=best.concurrency, throughput_per_s=best.throughput_per_s, p50_ms=best.p50_ms
    )


def booking_report(
    baseline: Sequence[Summary],
    saga: Sequence[Summary],
    seconds: float,
    warmup: float,
    cpu: Sequence[tuple[dict[str, float], dict[str, float]]] = (),
) -> BookingReport:
    """Per level: ``baseline[i]`` and ``saga[i]``, with ``cpu[i]`` = (baseline's, saga's)."""
    uses = list(cpu) or [({}, {})] * len(baseline)
    levels = [
        BookingLevel(
            concurrency=b.concurrency,
            baseline=b,
            saga=s,
            p50_ratio=ratio(s.p50_ms, b.p50_ms),
            throughput_ratio=ratio(s.throughput_per_s, b.throughput_per_s),
            baseline_cpu=b_cpu,
            saga_cpu=s_cpu,
        )
        for b, s, (b_cpu, s_cpu) in zip(baseline, saga, uses, strict=True)
    ]
    base_max, saga_max = max_sustained(baseline), max_sustained(saga)
    return BookingReport(
        seconds_per_level=seconds,
        warmup_seconds=warmup,
        levels=levels,
        baseline_max=base_max,
        saga_max=saga_max,
        max_throughput_ratio=ratio(saga_max.throughput_per_s, base_max.throughput_per_s),
        max_p50_ratio=ratio(saga_max.p50_ms, base_max.p50_ms),
    )


def _judge(value: float | None, goal: float, at_most: bool) -> bool | None:
    if value is None:
        return None
    return value <= goal if at_most else value >= goal


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def _ratio_target(
    name: str, ratio: float | None, goal: float, note: str, *, at_most: bool
) -> Target:
    return Target(
        name=name,
        measured=ratio,
        measured_text=_fmt(ratio, "x"),
        goal=f"{'<=' if at_most else '>='} {goal:g}x",
        met=_judge(ratio, goal, at_most=at_most),
        note=note,
    )


def _per_level(values: Sequence[tuple[int, str]]) -> str:
    return "per level " + ", ".join(f"{level}: {text}" for level, text in values)


def _worst_ratio_target(
    name: str,
    levels: Sequence[BookingLevel],
    of: Callable[[BookingLevel], float | None],
    goal: float,
    detail: Callable[[BookingLevel], str],
) -> Target:
    """The worst (highest) of a per-level ratio judged against ``goal`` (at most), its level
    and detail named, each level's ratio listed."""
    rated = [lv for lv in levels if of(lv) is not None]
    worst = max(rated, key=lambda lv: of(lv) or 0.0) if rated else None
    if worst is None:
        return _ratio_target(name, None, goal, "not measured", at_most=True)
    note = f"the worst level, concurrency {worst.concurrency}{detail(worst)}; " + _per_level(
        [(lv.concurrency, _x(of(lv))) for lv in levels]
    )
    return _ratio_target(name, of(worst), goal, note, at_most=True)


def booking_targets(booking: BookingReport) -> list[Target]:
    """The saga's latency, throughput and orchestration CPU beside the baseline's."""
    throughputs = (booking.saga_max.throughput_per_s, booking.baseline_max.throughput_per_s)
    return [
        _worst_ratio_target(
            "booking p50, saga / baseline, every level",
            booking.levels,
            lambda lv: lv.p50_ratio,
            P50_RATIO_MAX,
            lambda lv: f" ({_ms(lv.saga.p50_ms)} vs {_ms(lv.baseline.p50_ms)} ms)",
        ),
        _ratio_target(
            "sustained bookings/s, saga / baseline",
            booking.max_throughput_ratio,
            THROUGHPUT_RATIO_MIN,
            "{}/s vs {}/s (the best levels without errors)".format(*map(_fmt, throughputs)),
            at_most=False,
        ),
        _worst_ratio_target(
            "worker + Temporal CPU per booking / baseline's whole",
            booking.levels,
            lambda lv: lv.cpu_ratio,
            CPU_RATIO_MAX,
            lambda lv: (
                f" ({_ms(lv.saga_orchestration_cpu_ms_per_booking)} vs "
                f"{_ms(lv.baseline_cpu_ms_per_booking)} CPU ms per booking)"
            ),
        ),
    ]


def read_targets(reads: ReadsReport | None) -> list[Target]:
    """Each schedule read's p99, judged only over a view as large as the target names."""
    goal = f"< {READ_P99_MS:g} ms at {READ_VIEW_ROWS:,} rows"
    if reads is None:
        return [
            Target(
                name="schedule reads p99",
                measured=None,
                measured_text="n/a",
                goal=goal,
                met=None,
                note="reads not run",
            )
        ]
    rows = reads.fill.rows_after
    small = rows < READ_VIEW_ROWS
    targets = []
    for query in reads.queries:
        p99 = query.summary.p99_ms
        targets.append(
            Target(
                name=f"{query.name}: p99",
                measured=p99,
                measured_text=_fmt(p99, " ms", 1),
                goal=goal,
                met=None if small or p99 is None else p99 < READ_P99_MS,
                note=f"only {rows:,} rows in the view: not judged"
                if small
                else f"{rows:,} rows in the view",
            )
        )
    return targets


def outbox_targets(
    whole: OutboxFigures | None, levels: Mapping[int, OutboxFigures] | None = None
) -> list[Target]:
    """The outbox lag p99 at each saga level up to ``OUTBOX_JUDGED_UP_TO``, the worst
    judged (higher levels listed, not judged); and over the whole saga load, reported."""
    goal = f"< {OUTBOX_P99_MS:g} ms"
    measured = sorted((c, f) for c, f in (levels or {}).items() if f.p99_ms is not None)
    judged = [(c, f) for c, f in measured if c <= OUTBOX_JUDGED_UP_TO]
    name = f"outbox lag p99, each level 1-{OUTBOX_JUDGED_UP_TO}"
    if not judged:
        level_target = Target(
            name=name,
            measured=None,
            measured_text="n/a",
            goal=goal,
            met=None,
            note="not measured per level",
        )
    else:
        level, worst = max(judged, key=lambda pair: pair[1].p99_ms or 0.0)
        p99 = worst.p99_ms
        listed = [
            (c, _fmt(f.p99_ms, " ms", 0) + ("" if c <= OUTBOX_JUDGED_UP_TO else " (not judged)"))
            for c, f in measured
        ]
        level_target = Target(
            name=name,
            measured=p99,
            measured_text=_fmt(p99, " ms", 1),
            goal=goal,
            met=None if p99 is None else p99 < OUTBOX_P99_MS,
            note=f"the worst level, concurrency {level} ({worst.count} events); "
            + _per_level(listed),
        )
    lag = whole.p99_ms if whole else None
    return [
        level_target,
        Target(
            name="outbox lag p99, the whole saga load",
            measured=lag,
            measured_text=_fmt(lag, " ms", 1),
            goal="reported",
            met=None,
            note=f"{whole.count} events, {whole.scope}" if whole else "not measured",
            judged=False,
        ),
    ]


def evaluate_targets(
    booking: BookingReport,
    reads: ReadsReport | None,
    outbox: OutboxFigures | None,
    outbox_levels: Mapping[int, OutboxFigures] | None = None,
) -> list[Target]:
    """Each target of the booking, the reads and the outbox beside what was measured: met,
    missed, or None when not measured. ``outbox`` is the lag over the whole saga load,
    ``outbox_levels`` at each saga level by its concurrency."""
    return [*booking_targets(booking), *read_targets(reads), *outbox_targets(outbox, outbox_levels)]


def journey_targets(journeys: JourneysReport | None) -> list[Target]:
    """The worker's and the Temporal server's memory and idle CPU with the journeys live;
    judged only when as many journeys as the target names were measured. The server's
    memory is reported without a bound."""
    at = f"{JOURNEYS_AT:,} live journeys"
    rss_goals = (("worker", f"< {WORKER_RSS_MIB:g} MiB"), ("temporal", "measured"))
    cpu_goal = f"< {IDLE_CPU_PERCENT:g} % of a core"
    if journeys is None:
        rows = [(f"{p} RSS, {at}", g, p == "worker") for p, g in rss_goals]
        rows += [(f"{p} idle CPU, {at}", cpu_goal, True) for p in ORCHESTRATION]
        return [
            Target(
                name=n,
                measured=None,
                measured_text="n/a",
                goal=g,
                met=None,
                note="journeys not run",
                judged=j,
            )
            for n, g, j in rows
        ]
    after = journeys.after
    judged = journeys.count >= JOURNEYS_AT
    note = (
        f"{after.live_journeys:,} live journeys"
        if judged
        else f"only {journeys.count:,} journeys started: not judged"
    )
    targets = []
    for process, goal in rss_goals:
        rss = after.rss_mib.get(process)
        bounded = process == "worker"
        targets.append(
            Target(
                name=f"{process} RSS, {at}",
                measured=rss,
                measured_text=_fmt(rss, " MiB", 1),
                goal=goal,
                met=(None if rss is None else rss < WORKER_RSS_MIB) if judged and bounded else None,
                note=note,
                judged=bounded,
            )
        )
    for process in ORCHESTRATION:
        cpu = after.idle_cpu_percent.get(process)
        targets.append(
            Target(
                name=f"{process} idle CPU, {at}",
                measured=cpu,
                measured_text=_fmt(cpu, " %", 1),
                goal=cpu_goal,
                met=(None if cpu is None else cpu < IDLE_CPU_PERCENT) if judged else None,
                note=f"{note}, over {journeys.idle_seconds:g} s",
            )
        )
    return targets


def waitlist_targets(waitlist: WaitlistReport | None) -> list[Target]:
    """The p99 from a cancellation's answer to its slot's first offer on Kafka."""
    name, goal = "cancellation -> first waitlist offer on Kafka, p99", f"< {OFFER_P99_MS:,.0f} ms"
    if waitlist is None:
        return [Target(name=name, measured=None, measured_text="n/a", goal=goal, met=None,
                       note="waitlist offers not run")]  # fmt: skip
    s = waitlist.summary
    return [
        Target(
            name=name,
            measured=s.p99_ms,
            measured_text=_fmt(s.p99_ms, " ms", 0),
            goal=goal,
            met=None if s.p99_ms is None else s.p99_ms < OFFER_P99_MS,
            note=f"{s.ok} of {waitlist.samples} samples, p50 {_fmt(s.p50_ms, ' ms', 0)}"
            + (f", {s.errors} without an offer" if s.errors else ""),
        )
    ]


def render_waitlist(waitlist: WaitlistReport) -> list[str]:
    s = waitlist.summary
    out = [
        "",
        "Waitlist: a cancellation's answer -> the first waitlist.offered of its slot on Kafka "
        "(one sample at a time)",
        render_table(
            ["samples", "ok", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [
                    str(waitlist.samples),
                    str(s.ok),
                    str(s.errors),
                    _ms(s.p50_ms),
                    _ms(s.p95_ms),
                    _ms(s.p99_ms),
                    _ms(s.max_ms),
                ]
            ],
        ),
    ]
    out += [f"  error (waitlist): {error}" for error in s.first_errors]
    return out


def render_journeys(journeys: JourneysReport) -> list[str]:
    j = journeys
    out = [
        "",
        f"Live journeys: {j.count:,} started in {j.start_seconds:.0f} s, all idle after "
        f"{j.settle_seconds:.0f} s; idle CPU over {j.idle_seconds:g} s (% of one core)",
    ]
    rows = []
    for label, shot in ((f"before ({j.before.live_journeys:,} live)", j.before),
                        (f"after ({j.after.live_journeys:,} live)", j.after)):  # fmt: skip
        for process in shot.rss_mib:
            rows.append(
                [
                    label,
                    process,
                    _ms(shot.rss_mib.get(process)),
                    _ms(shot.peak_rss_mib.get(process)),
                    f"{shot.idle_cpu_percent.get(process, 0.0):.1f}",
                ]
            )
    out.append(render_table(["when", "process", "RSS MiB", "peak MiB", "idle CPU %"], rows))
    if j.history_events is not None:
        out.append(
            f"history of an idle journey: {j.history_events} events ({', '.join(j.history_kinds)})"
        )
    return out


# --- the printout ------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "").replace("x", "").replace("-", "")
    return stripped.isdigit()


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table: numbers aligned right, text left, a rule under the headers."""
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells for {len(headers)} headers")
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if _is_number(cell) else cell.ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(target: Target) -> str:
    if target.met is None:
        return "reported" if not target.judged and target.measured is not None else "n/a"
    return "met" if target.met else "MISSED"


def render_report(report: BenchReport) -> str:
    m, b = report.machine, report.booking
    commit = (m.git_commit or "unknown")[:10] + (" (uncommitted changes)" if m.git_dirty else "")
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.phases.items())
    out = [
        f"Appointment service benchmark, {m.started_at:%Y-%m-%d %H:%M} UTC",
        f"machine: {m.cpu_count} CPUs, Python {m.python}, {m.platform}, commit {commit}",
        f"wall time: {report.wall_seconds:.0f} s ({phases})",
        "settings: " + (", ".join(f"{k}={v}" for k, v in report.settings.items()) or "-"),
        "",
        f"Booking: closed loop, {b.seconds_per_level:g} s per level after "
        f"{b.warmup_seconds:g} s of warm-up; latency of successful bookings",
    ]
    rows: list[list[str]] = []
    for level in b.levels:
        for mode, s in (("baseline", level.baseline), ("saga", level.saga)):
            saga = mode == "saga"
            rows.append(
                [
                    str(level.concurrency),
                    mode,
                    str(s.count),
                    str(s.errors),
                    _ms(s.p50_ms),
                    _ms(s.p95_ms),
                    _ms(s.p99_ms),
                    f"{s.throughput_per_s:.2f}",
                    _x(level.p50_ratio) if saga else "",
                    _x(level.throughput_ratio) if saga else "",
                ]
            )
    headers = ["conc", "mode", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "ok/s"]
    out.append(render_table([*headers, "p50 ratio", "ok/s ratio"], rows))

    def best(label: str, top: MaxSustained) -> str:
        if top.concurrency is None:
            return f"{label} n/a (no level without errors)"
        return f"{label} {top.throughput_per_s:.2f}/s at concurrency {top.concurrency}"

    out.append(
        "max sustained throughput (levels without errors): "
        + best("baseline", b.baseline_max)
        + "; "
        + best("saga", b.saga_max)
        + f"; ratio {_x(b.max_throughput_ratio)}; p50 at those levels: saga "
        + f"{_ms(b.saga_max.p50_ms)} ms / baseline {_ms(b.baseline_max.p50_ms)} ms = "
        + _x(b.max_p50_ratio)
    )
    for level in b.levels:
        for mode, s in (("baseline", level.baseline), ("saga", level.saga)):
            for error in s.first_errors:
                out.append(f"  error ({mode}, concurrency {level.concurrency}): {error}")

    names = list(dict.fromkeys(n for lv in b.levels for n in [*lv.baseline_cpu, *lv.saga_cpu]))
    if names:
        cores = m.cpu_count or 1
        out += [
            "",
            f"CPU during the measured booking runs (% of one core; {cores} cores make "
            f"{cores * 100}%; bench = this process: the baseline and the load driver)",
        ]
        rows = [
            [
                str(level.concurrency),
                mode,
                *(f"{use.get(name, 0.0):.0f}" for name in names),
                f"{sum(use.values()):.0f}",
            ]
            for level in b.levels
            for mode, use in (("baseline", level.baseline_cpu), ("saga", level.saga_cpu))
        ]
        out.append(render_table(["conc", "mode", *names, "total"], rows))
        out += [
            "",
            "CPU per successful booking (CPU ms = % of a core x run seconds / bookings): the "
            "baseline's every process (bench included), the saga's, and the saga's worker + "
            "Temporal; ratio = worker + Temporal / baseline",
        ]
        rows = [
            [
                str(level.concurrency),
                _ms(level.baseline_cpu_ms_per_booking),
                _ms(level.saga_cpu_ms_per_booking),
                _ms(level.saga_orchestration_cpu_ms_per_booking),
                _x(level.cpu_ratio),
            ]
            for level in b.levels
        ]
        headers = ["conc", "baseline ms", "saga ms", "worker+temporal ms", "ratio"]
        out.append(render_table(headers, rows))

    if report.reads is not None:
        r = report.reads
        out += [
            "",
            f"Schedule reads: view of {r.fill.rows_after:,} rows (days {r.fill.first_day} to "
            f"{r.fill.last_day}; {r.fill.inserted:,} inserted in {r.fill.seconds:.0f} s), "
            f"concurrency {r.concurrency}, {r.seconds:g} s each",
        ]
        rows = [
            [
                q.name,
                str(q.summary.count),
                str(q.summary.errors),
                _ms(q.summary.p50_ms),
                _ms(q.summary.p95_ms),
                _ms(q.summary.p99_ms),
                f"{q.summary.throughput_per_s:.2f}",
                "-" if q.rows_mean is None else f"{q.rows_mean:.1f}",
            ]
            for q in r.queries
        ]
        headers = ["query", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s", "rows/query"]
        out.append(render_table(headers, rows))
        for q in r.queries:
            for error in q.summary.first_errors:
                out.append(f"  error ({q.name}): {error}")
        for plan in r.explain:
            out.append(
                f"plan, {plan.label}: {plan.winning_plan}; returned {plan.returned}, "
                f"keys examined {plan.keys_examined}, docs examined {plan.docs_examined}, "
                f"{_ms(plan.server_ms)} ms on the server"
            )

    out += ["", "Outbox lag (commit of the outbox row -> receipt by a consumer)"]
    rows = [
        [
            o.scope,
            str(o.count),
            _ms(o.p50_ms),
            _ms(o.p95_ms),
            _ms(o.p99_ms),
            _ms(o.max_ms),
            _ms(o.produced_p50_ms),
            _ms(o.produced_p99_ms),
        ]
        for o in report.outbox
    ]
    headers = ["events", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    out.append(render_table([*headers, "to Kafka p50", "to Kafka p99"], rows))

    out += ["", "Memory after the booking load (MiB; peak = VmHWM since start)"]
    rows = [
        [p.name, str(p.pid), _ms(p.peak_rss_mib), _ms(p.rss_mib), str(p.processes)]
        for p in report.memory
    ]
    out.append(render_table(["process", "pid", "peak RSS", "RSS now", "processes"], rows))

    if report.waitlist is not None:
        out += render_waitlist(report.waitlist)

    if report.journeys is not None:
        out += render_journeys(report.journeys)

    out += ["", "Targets (reported, never asserted)"]
    rows = [[t.name, t.measured_text, t.goal, _verdict(t), t.note] for t in report.targets]
    out.append(render_table(["target", "measured", "goal", "result", "note"], rows))
    for note in report.notes:
        out.append(f"note: {note}")
    return "\n".join(out)


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
