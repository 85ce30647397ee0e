"""A progress line for long operator commands (``projector rebuild``): count, rate, ETA.

It is drawn only on a terminal (``stream.isatty()``): in a Job's log, a pipe or a file
it writes nothing at all, so logs stay free of carriage returns and the command's final
summary line is all that remains. The line is redrawn at most every ``every`` seconds
(a rebuild advances thousands of times a second), and once more, complete, on ``close``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TextIO


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class Progress:
    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.2,
    ) -> None:
        self._what, self._total, self._unit = what, total, unit
        self._stream = sys.stderr if stream is None else stream
        self._clock, self._every = clock, every
        self._shown = self._stream.isatty()
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0  # of the line drawn last, to blank what a shorter one leaves
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int) -> None:
        self.done = done
        if not self._shown:
            return
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= self._every:
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (nothing when not on a terminal)."""
        if self._shown:
            self._draw(self._clock())
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False

    def line(self, now: float) -> str:
        """What the progress line says at ``now``."""
        elapsed = max(now - self._started, 0.0)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        unit = f" {self._unit}" if self._unit else ""
        parts = [self._what]
        if self._total:
            percent = min(100.0, 100.0 * self.done / self._total)
            parts.append(f"{self.done:,}/{self._total:,}{unit}  {percent:3.0f}%")
        else:
            parts.append(f"{self.done:,}{unit}")
        parts.append(f"{rate:,.0f}/s")
        if self._total and rate > 0:
            remaining = max(self._total - self.done, 0) / rate
            parts.append(f"ETA {_duration(remaining)}")
        else:
            parts.append(f"elapsed {_duration(elapsed)}")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.line(now)
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)
        self._drawn_at = now

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
