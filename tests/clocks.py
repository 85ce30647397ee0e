"""Clocks a test moves by hand: time passes only when the test says so, and no test
sleeps for it."""

from __future__ import annotations

from datetime import datetime, timedelta


class Ticks:
    """A monotonic clock in seconds (what circuit breakers and caches read)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock:
    """A wall clock of aware datetimes (what the simulators' hold expiry reads)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
