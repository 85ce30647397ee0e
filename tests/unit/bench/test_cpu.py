"""CPU seconds from /proc/<pid>/stat and the use between two snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cpu import (
    CLOCK_TICKS,
    cpu_ms_per_operation,
    cpu_percent,
    cpu_seconds,
    cpu_snapshot,
    stat_cpu_ticks,
)


def stat_line(pid: int, comm: str, utime: int, stime: int) -> str:
    # fields 3..13, then utime (14), stime (15), then the rest
    middle = "S 1 1 1 0 -1 4194560 100 0 0 0"
    return f"{pid} ({comm}) {middle} {utime} {stime} 0 0 20 0 4 0 12345\n"


def test_utime_and_stime_are_read_after_the_command_name() -> None:
    assert stat_cpu_ticks(stat_line(7, "python", 150, 50)) == 200
    # a command name with spaces and parentheses must not shift the fields
    assert stat_cpu_ticks(stat_line(7, "a (b) c) d", 3, 4)) == 7


def fake(proc: Path, pid: int, utime: int, stime: int, kids: list[int]) -> None:
    folder = proc / str(pid)
    (folder / "task" / str(pid)).mkdir(parents=True)
    (folder / "stat").write_text(stat_line(pid, "python", utime, stime))
    (folder / "task" / str(pid) / "children").write_text(" ".join(map(str, kids)))


def test_cpu_seconds_with_and_without_descendants(tmp_path: Path) -> None:
    fake(tmp_path, 10, 100, 100, [11])
    fake(tmp_path, 11, 50, 50, [])
    assert cpu_seconds(10, proc=tmp_path) == pytest.approx(300 / CLOCK_TICKS)
    assert cpu_seconds(10, descendants=False, proc=tmp_path) == pytest.approx(200 / CLOCK_TICKS)
    assert cpu_seconds(99, proc=tmp_path) == 0.0
    snapshot = cpu_snapshot({"api": (10, True), "bench": (10, False)}, proc=tmp_path)
    assert snapshot == pytest.approx({"api": 300 / CLOCK_TICKS, "bench": 200 / CLOCK_TICKS})


def test_use_between_snapshots_in_percent_of_one_core() -> None:
    before = {"api": 10.0, "worker": 5.0, "gone": 1.0}
    after = {"api": 12.0, "worker": 5.5, "new": 3.0}
    assert cpu_percent(before, after, 4.0) == {"api": 50.0, "worker": 12.5}
    assert cpu_percent(before, after, 0.0) == {}


def test_cpu_per_operation_of_all_or_some_processes() -> None:
    use = {"worker": 30.0, "temporal": 20.0, "mongo": 50.0}  # % of a core
    # 100 % of a core over 10 s: 10 CPU s for 50 operations
    assert cpu_ms_per_operation(use, 10.0, 50) == 200.0
    assert cpu_ms_per_operation(use, 10.0, 50, ("worker", "temporal")) == 100.0


def test_cpu_per_operation_needs_operations_and_every_named_process() -> None:
    use = {"worker": 30.0}
    assert cpu_ms_per_operation(use, 10.0, 0) is None
    assert cpu_ms_per_operation(use, 0.0, 5) is None
    assert cpu_ms_per_operation({}, 10.0, 5) is None
    assert cpu_ms_per_operation(use, 10.0, 5, ("worker", "temporal")) is None
