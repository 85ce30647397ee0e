"""A circuit breaker per peer: after a run of transient faults, stop calling the peer for
a while and fail fast instead, then let one trial call decide whether it is back.

Our own, about a hundred lines of code, rather than a library, because what counts as a failure
is the point of the whole thing and must be ours to state:

- Only a transient fault counts: ``PeerUnavailable`` (timeout, connection error, 5xx,
  408, 429), which ``peers/http.py`` has already told apart. A business refusal (unknown
  patient 404, slot taken 409, payment refused 402) or even an answer off our contract is
  a peer that answers: a success for the breaker. Generic breakers count exceptions and
  would open on a run of taken slots.
- The clock is injected (monotonic by default), so tests step through open, half-open
  and closed exactly, without sleeping.
- ``state`` is readable synchronously, for the readiness probe and for metrics.
- The candidates on PyPI did not fit: aiobreaker saw its last release in 2021, and
  purgatory brings storage backends (Redis) that a per-process breaker does not need.

States: CLOSED lets every call through and counts consecutive transient failures; at
``failure_threshold`` it opens. OPEN fails every call fast with ``BreakerOpen`` until
``reset_seconds`` have passed, then it is HALF_OPEN: ONE trial call goes through (the
others still fail fast); its success closes the breaker, its failure opens it again.

A call's outcome counts only in the state it was admitted in: a slow call admitted while
CLOSED that fails after the breaker opened neither re-opens it nor counts twice."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import TypeVar

from loguru import logger

from domain.errors import PeerRequestInvalid, PeerUnavailable

T = TypeVar("T")

# How long callers refused during a half-open trial should wait: the trial ends within one
# peer timeout, so "soon", not a whole reset period.
TRIAL_WAIT_SECONDS = 1.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpen(PeerUnavailable):
    """The peer's breaker refused the call, which was not made. ``retry_after`` says in how
    many seconds the breaker lets a call through again; ``trial_running`` that it is
    half-open and another call's trial decides right now, so asking again soon is fine."""

    retry_after: float

    def __init__(self, peer: str, retry_after: float, *, trial_running: bool = False) -> None:
        why = "a trial call is running" if trial_running else "circuit open"
        super().__init__(peer, f"{why}, next try in {retry_after:.1f}s")
        self.retry_after = retry_after
        self.trial_running = trial_running


StateListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.on_change = on_change  # (name, old, new); metrics attach here
        self.opened_total = 0
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._open_until = 0.0
        self._trial_running = False
        self._generation = 0  # bumped on every change: late outcomes of older calls don't count

    @property
    def state(self) -> BreakerState:
        """The current state; an OPEN breaker whose reset time has passed reads HALF_OPEN."""
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def retry_after(self) -> float:
        """Seconds until a call may go through again: 0 when one may go now."""
        state = self.state
        if state is BreakerState.OPEN:
            return max(self._open_until - self._clock(), 0.0)
        if state is BreakerState.HALF_OPEN and self._trial_running:
            return TRIAL_WAIT_SECONDS
        return 0.0

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Wrap one call to the peer; raises ``BreakerOpen`` instead of making it."""
        wait = self.retry_after()
        if wait > 0:
            raise BreakerOpen(self.name, wait, trial_running=self._trial_running)
        generation = self._generation
        if self._state is BreakerState.HALF_OPEN:
            self._trial_running = True
        try:
            yield
        except PeerUnavailable:
            self._failed(generation)
            raise
        except PeerRequestInvalid:
            self._abandoned(generation)  # never sent: we learnt nothing about the peer
            raise
        except Exception:
            self._succeeded(generation)  # a refusal or an off-contract answer: it answered
            raise
        except BaseException:
            self._abandoned(generation)  # cancelled: we learnt nothing about the peer
            raise
        else:
            self._succeeded(generation)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        async with self.guard():
            return await fn()

    def _succeeded(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._move(BreakerState.CLOSED)

    def _failed(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._open_until = self._clock() + self.reset_seconds
            self.opened_total += 1
            self._move(BreakerState.OPEN)

    def _abandoned(self, generation: int) -> None:
        if generation == self._generation:
            self._trial_running = False  # half-open: the next caller makes the trial

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self._generation += 1
        self._failures = 0
        self._trial_running = False
        log = logger.bind(peer=self.name, breaker_from=old.value, breaker_to=new.value)
        if new is BreakerState.OPEN:
            why = "its trial call failed" if old is BreakerState.HALF_OPEN else "transient faults"
            log.warning(
                "{} breaker opened ({}): calls fail fast for {:g}s",
                self.name, why, self.reset_seconds,
            )  # fmt: skip
        elif new is BreakerState.HALF_OPEN:
            log.info("{} breaker half-open: the next call is a trial", self.name)
        else:
            log.info("{} breaker closed: the peer answers again", self.name)
        if self.on_change is not None:
            try:
                self.on_change(self.name, old, new)
            except Exception:  # a broken listener must not break calls to the peer
                logger.opt(exception=True).error("{} breaker listener failed", self.name)
