"""What the figures were measured on: CPUs, Python, platform, the git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.report import MachineInfo


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def machine_info(root: Path) -> MachineInfo:
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return MachineInfo(
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        git_commit=_git(root, "rev-parse", "HEAD"),
        git_dirty=None if status is None else bool(status),
        load_average=None
        if load is None
        else (round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        started_at=datetime.now(UTC),
    )
