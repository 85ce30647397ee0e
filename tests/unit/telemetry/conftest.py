"""What the telemetry tests share: a breaker as the collector sees one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeBreaker:
    """Anything with ``name``, ``state`` and ``opened_total`` reads as a breaker."""

    name: str
    state: str
    opened_total: int = 0
