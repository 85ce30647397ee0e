"""Resident memory of the stack's processes, from ``/proc`` (Linux): the peak (``VmHWM``,
since the process started) and the current (``VmRSS``) resident set, in MiB.

A process that is only a wrapper (a launcher whose real work runs in a child) is measured
with its descendants: the figures then are the sums over the tree, and the peak is an
upper bound (the processes need not have peaked at the same moment)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

PROC = Path("/proc")
KIB_PER_MIB = 1024


class ProcessMemory(BaseModel):
    name: str
    pid: int
    command: str
    peak_rss_mib: float | None  # None: the process is gone (or /proc is not there)
    rss_mib: float | None
    processes: int  # how many processes the figures add up (the pid and its descendants)


def status_kib(text: str) -> dict[str, int]:
    """The ``kB`` fields of a ``/proc/<pid>/status`` text, e.g. {"VmHWM": 81234, ...}."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    return fields


def children(pid: int, proc: Path = PROC) -> list[int]:
    """The pids of the direct children of ``pid`` (from every thread's ``children``)."""
    found: list[int] = []
    for path in sorted((proc / str(pid) / "task").glob("*/children")):
        try:
            found.extend(int(p) for p in path.read_text().split())
        except OSError:
            continue
    return sorted(set(found))


def tree(pid: int, proc: Path = PROC) -> list[int]:
    """``pid`` and all its descendants, parents first."""
    order, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        if current not in order:
            order.append(current)
            queue.extend(children(current, proc))
    return order


def _command(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def measure(name: str, pid: int, *, descendants: bool = True, proc: Path = PROC) -> ProcessMemory:
    """The peak and current resident set of ``pid``, with its descendants unless not
    wanted (a process that launched the whole stack)."""
    peak = rss = 0
    counted = 0
    for member in tree(pid, proc) if descendants else [pid]:
        try:
            fields = status_kib((proc / str(member) / "status").read_text())
        except OSError:
            continue
        peak += fields.get("VmHWM", 0)
        rss += fields.get("VmRSS", 0)
        counted += 1
    return ProcessMemory(
        name=name,
        pid=pid,
        command=_command(pid, proc)[:200],
        peak_rss_mib=round(peak / KIB_PER_MIB, 1) if counted else None,
        rss_mib=round(rss / KIB_PER_MIB, 1) if counted else None,
        processes=counted,
    )
