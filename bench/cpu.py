"""CPU time of the stack's processes, from ``/proc/<pid>/stat`` (Linux): user + system
seconds, whose differences over a measured run show which process the load keeps busy."""

from __future__ import annotations

import os
from collections.abc import Mapping
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
