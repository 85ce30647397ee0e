"""Liveness of a process's main loop: the loop touches a file, a probe checks its age.

The relay and the projector have no port, and a probe that only asks MongoDB whether it
answers says nothing about the loop: a relay stuck in a call that never returns, or a
projector whose task died while the process lingers, would pass it forever. So the loop
itself beats (``Heartbeat.beat`` at the top of every round, also while it waits out a
MongoDB, Kafka or peer outage: a loop that is waiting is alive, and a restart would not
help),
and ``appointment-service relay alive`` / ``projector alive`` (the Kubernetes liveness
probe, the compose healthcheck) fail once the beat is older than
``heartbeat_max_age_seconds``.

A file, not a MongoDB document: the probe must not depend on MongoDB answering (that is
what readiness says), and a file in the container's own ``/tmp`` is what the process
that beats and the probe that reads share. The file's modification time is the beat.
Writes are throttled (``every`` seconds): the loops go round several times a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from config import Settings

# Well inside any sensible limit: a beat at most this old when the loop is alive.
BEAT_EVERY_SECONDS = 5.0


class Heartbeat:
    def __init__(
        self,
        path: Path,
        *,
        every: float = BEAT_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._every, self._clock = every, clock
        self._last: float | None = None
        self._failing = False

    @classmethod
    def of(cls, settings: Settings, process: str) -> Heartbeat:
        every = min(BEAT_EVERY_SECONDS, settings.heartbeat_max_age_seconds / 4)
        return cls(heartbeat_file(settings, process), every=every)

    def beat(self) -> None:
        """Touch the file, unless that was done less than ``every`` seconds ago. Never
        raises: a full or read-only disk is logged (once) and shows as a failing probe."""
        now = self._clock()
        if self._last is not None and now - self._last < self._every:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as error:
            if not self._failing:
                logger.error("heartbeat {} not written: {}", self.path, error)
            self._failing = True
            return
        self._failing = False
        self._last = now


def heartbeat_file(settings: Settings, process: str) -> Path:
    return settings.heartbeat_path / f"{process}.alive"


def heartbeat_age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the last beat (wall clock: the beating process may have restarted),
    or None if there is none to read (never written, or its directory is unusable)."""
    try:
        beaten = path.stat().st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() if now is None else now) - beaten)


def check_alive(settings: Settings, process: str, max_age: float | None = None) -> int:
    """The liveness probe: prints one line, returns the exit code (0 alive, 1 not)."""
    limit = settings.heartbeat_max_age_seconds if max_age is None else max_age
    path = heartbeat_file(settings, process)
    age = heartbeat_age(path)
    if age is None:
        print(f"{process} not alive: no heartbeat at {path}")
        return 1
    if age > limit:
        print(f"{process} not alive: last heartbeat {age:.0f} s ago (limit {limit:.0f} s)")
        return 1
    print(f"{process} alive: last heartbeat {age:.1f} s ago")
    return 0
