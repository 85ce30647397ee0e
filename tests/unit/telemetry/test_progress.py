"""The progress line of long commands: count, rate and ETA on a terminal, nothing at all
in a log or a pipe."""

from __future__ import annotations

import io

from telemetry.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_it_shows_count_rate_and_eta_and_ends_the_line() -> None:
    out, clock = Terminal(), Clock()
    with Progress("rebuild", 1000, unit="events", stream=out, clock=clock) as progress:
        clock.now += 2.0
        progress.update(250)  # 125/s, 750 left: 6 s
        clock.now += 2.0
        progress.advance(250)
    drawn = out.getvalue().split("\r")[1:]
    assert drawn[0].strip() == "rebuild  250/1,000 events   25%  125/s  ETA 0:00:06"
    assert drawn[1].strip() == "rebuild  500/1,000 events   50%  125/s  ETA 0:00:04"
    assert drawn[-1].endswith("\n")  # close() leaves the cursor on a fresh line


def test_redraws_are_throttled_but_the_final_state_is_always_drawn() -> None:
    out, clock = Terminal(), Clock()
    progress = Progress("rebuild", 10, stream=out, clock=clock, every=1.0)
    clock.now += 0.5
    progress.update(1)  # the first draw
    for done in range(2, 10):
        progress.update(done)  # within the same second: not drawn
    progress.close()
    drawn = [line.strip() for line in out.getvalue().split("\r")[1:]]
    assert len(drawn) == 2
    assert drawn[-1].startswith("rebuild  9/10")


def test_without_a_total_it_shows_the_count_rate_and_elapsed_time() -> None:
    out, clock = Terminal(), Clock()
    progress = Progress("backfill", stream=out, clock=clock)
    clock.now += 65.0
    progress.update(130)
    assert progress.line(clock.now) == "backfill  130  2/s  elapsed 0:01:05"


def test_a_shorter_line_blanks_what_the_longer_one_before_it_left() -> None:
    out, clock = Terminal(), Clock()
    progress = Progress("x", stream=out, clock=clock, every=0.0)
    clock.now += 1.0
    progress.update(1_000_000)
    clock.now += 1000.0
    progress.update(1_000_001)
    first, second = out.getvalue().split("\r")[1:]
    assert len(second) >= len(first.rstrip())


def test_not_on_a_terminal_it_writes_nothing() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress("rebuild", 1000, stream=out, clock=clock) as progress:
        clock.now += 1.0
        progress.update(500)
    assert out.getvalue() == ""
    assert progress.done == 500
