"""CPU time of the stack's processes, from ``/proc/<pid>/stat`` (Linux): user + system
seconds, whose differences over a measured run show which process the load keeps busy."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from bench.memory import PROC, tree

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def stat_cpu_ticks(text: str) -> int:
    """utime + stime (clock ticks) from a ``/proc/<pid>/stat`` line. The command name (2nd
    field) may hold spaces and parentheses: the fields are counted after its last ')'."""
    after = text[text.rindex(")") + 2 :].split()
    # after[0] is field 3 (state); utime and stime are fields 14 and 15
    return int(after[11]) + int(after[12])


def cpu_seconds(pid: int, *, descendants: bool = True, proc: Path = PROC) -> float:
    """CPU seconds (user + system) used so far by ``pid`` (and its living descendants)."""
    ticks = 0
    for member in tree(pid, proc) if descendants else [pid]:
        try:
            ticks += stat_cpu_ticks((proc / str(member) / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
    return ticks / CLOCK_TICKS


def cpu_snapshot(processes: Mapping[str, tuple[int, bool]], proc: Path = PROC) -> dict[str, float]:
    """CPU seconds so far of each named (pid, with descendants) process."""
    return {
        name: cpu_seconds(pid, descendants=descendants, proc=proc)
        for name, (pid, descendants) in processes.items()
    }


def cpu_percent(
    before: Mapping[str, float], after: Mapping[str, float], seconds: float
) -> dict[str, float]:
    """Each process's CPU use between two snapshots, in % of one core."""
    if seconds <= 0:
        return {}
    return {
        name: round((after[name] - before[name]) / seconds * 100, 1)
        for name in after
        if name in before
    }


def cpu_ms_per_operation(
    percent: Mapping[str, float],
    seconds: float,
    operations: int,
    names: Collection[str] | None = None,
) -> float | None:
    """CPU milliseconds per operation spent by the ``names`` processes (all of ``percent``
    if None), from their use in % of one core over a run of ``seconds`` that completed
    ``operations``. None when nothing completed or a named process was not measured."""
    if operations <= 0 or seconds <= 0 or not percent:
        return None
    chosen = list(percent) if names is None else list(names)
    if any(name not in percent for name in chosen):
        return None
    used_seconds = sum(percent[name] for name in chosen) / 100 * seconds
    return round(used_seconds * 1000 / operations, 2)
