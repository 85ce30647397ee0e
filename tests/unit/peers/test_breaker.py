"""The circuit breaker on a clock the test moves by hand: every transition exactly, no
sleeping."""

from __future__ import annotations

import asyncio

import pytest
from loguru import logger

from domain.errors import PeerUnavailable, SlotUnavailable
from peers.breaker import BreakerOpen, BreakerState, CircuitBreaker
from peers.http import PeerContractError
from tests.clocks import Ticks

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


Change = tuple[str, BreakerState, BreakerState]


@pytest.fixture
def clock() -> Ticks:
    return Ticks()


@pytest.fixture
def changes() -> list[Change]:
    return []


@pytest.fixture
def breaker(clock: Ticks, changes: list[Change]) -> CircuitBreaker:
    def record(name: str, old: BreakerState, new: BreakerState) -> None:
        changes.append((name, old, new))

    return CircuitBreaker(
        "billing", failure_threshold=3, reset_seconds=10, clock=clock, on_change=record
    )


async def ok() -> str:
    return "answer"


async def down() -> str:
    raise PeerUnavailable("billing", "HTTP 503")


async def refuse() -> str:
    raise SlotUnavailable("taken")


async def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(PeerUnavailable):
            await breaker.call(down)


async def test_it_opens_after_the_threshold_of_consecutive_transient_failures(
    breaker: CircuitBreaker, changes: list[Change]
) -> None:
    await fail(breaker, 2)
    assert breaker.state is CLOSED
    await fail(breaker, 1)
    assert breaker.state is OPEN
    assert breaker.opened_total == 1
    assert changes == [("billing", CLOSED, OPEN)]


async def test_an_open_breaker_fails_fast_without_calling(
    breaker: CircuitBreaker, clock: Ticks
) -> None:
    await fail(breaker, 3)
    clock.advance(4)
    called = False

    async def spy() -> str:
        nonlocal called
        called = True
        return "answer"

    with pytest.raises(BreakerOpen) as raised:
        await breaker.call(spy)
    assert not called
    assert raised.value.peer == "billing"
    assert raised.value.retry_after == pytest.approx(6)
    assert not raised.value.trial_running
    assert isinstance(raised.value, PeerUnavailable)  # what callers already handle


async def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    await fail(breaker, 2)
    assert await breaker.call(ok) == "answer"
    await fail(breaker, 2)
    assert breaker.state is CLOSED


@pytest.mark.parametrize(
    "answer",
    [SlotUnavailable("taken"), PeerContractError("billing", 409, "idempotency-key-reused")],
)
async def test_an_answer_that_is_not_a_transient_fault_counts_as_success(
    breaker: CircuitBreaker, answer: Exception
) -> None:
    async def answering() -> str:
        raise answer

    for _ in range(10):
        await fail(breaker, 2)
        with pytest.raises(type(answer)):
            await breaker.call(answering)
    assert breaker.state is CLOSED
    assert breaker.opened_total == 0


async def test_after_the_reset_time_it_is_half_open(
    breaker: CircuitBreaker, clock: Ticks, changes: list[Change]
) -> None:
    await fail(breaker, 3)
    clock.advance(9.9)
    assert breaker.state is OPEN
    clock.advance(0.1)
    assert breaker.state is HALF_OPEN
    assert breaker.retry_after() == 0
    assert changes[-1] == ("billing", OPEN, HALF_OPEN)


async def test_half_open_lets_one_trial_through_and_its_success_closes(
    breaker: CircuitBreaker, clock: Ticks, changes: list[Change]
) -> None:
    await fail(breaker, 3)
    clock.advance(10)
    trial_started, finish = asyncio.Event(), asyncio.Event()

    async def slow_ok() -> str:
        trial_started.set()
        await finish.wait()
        return "answer"

    trial = asyncio.create_task(breaker.call(slow_ok))
    await trial_started.wait()
    with pytest.raises(BreakerOpen) as refused:  # only ONE trial at a time
        await breaker.call(ok)
    assert refused.value.trial_running
    finish.set()
    assert await trial == "answer"
    assert breaker.state is CLOSED
    assert await breaker.call(ok) == "answer"
    assert [new for _, _, new in changes] == [OPEN, HALF_OPEN, CLOSED]


async def test_a_failed_trial_opens_it_again_for_a_full_reset_time(
    breaker: CircuitBreaker, clock: Ticks, changes: list[Change]
) -> None:
    await fail(breaker, 3)
    clock.advance(10)
    await fail(breaker, 1)
    assert breaker.state is OPEN
    assert breaker.opened_total == 2
    assert breaker.retry_after() == pytest.approx(10)
    clock.advance(10)
    assert breaker.state is HALF_OPEN
    assert [new for _, _, new in changes] == [OPEN, HALF_OPEN, OPEN, HALF_OPEN]


async def test_a_refusal_in_the_trial_closes_it(breaker: CircuitBreaker, clock: Ticks) -> None:
    await fail(breaker, 3)
    clock.advance(10)
    with pytest.raises(SlotUnavailable):
        await breaker.call(refuse)
    assert breaker.state is CLOSED


async def test_a_cancelled_trial_leaves_the_next_call_to_try(
    breaker: CircuitBreaker, clock: Ticks
) -> None:
    await fail(breaker, 3)
    clock.advance(10)

    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    trial = asyncio.create_task(breaker.call(hang))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.state is HALF_OPEN
    assert await breaker.call(ok) == "answer"
    assert breaker.state is CLOSED


async def test_a_late_failure_of_a_call_made_before_opening_does_not_count(
    breaker: CircuitBreaker, clock: Ticks
) -> None:
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_down() -> str:
        started.set()
        await finish.wait()
        raise PeerUnavailable("billing", "timed out")

    straggler = asyncio.create_task(breaker.call(slow_down))
    await started.wait()
    await fail(breaker, 3)
    clock.advance(10)
    assert breaker.state is HALF_OPEN
    finish.set()
    with pytest.raises(PeerUnavailable):
        await straggler
    assert breaker.state is HALF_OPEN  # the straggler was admitted while CLOSED
    assert breaker.opened_total == 1


async def test_the_guard_is_a_context_manager_too(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        with pytest.raises(PeerUnavailable):
            async with breaker.guard():
                raise PeerUnavailable("billing", "HTTP 502")
    with pytest.raises(BreakerOpen):
        async with breaker.guard():
            pytest.fail("an open breaker must not run the call")


async def test_a_broken_listener_does_not_break_calls(clock: Ticks) -> None:
    def broken(name: str, old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("metrics are down")

    breaker = CircuitBreaker("doctor", failure_threshold=1, clock=clock, on_change=broken)
    await fail(breaker, 1)
    assert breaker.state is OPEN


async def test_it_logs_a_warning_when_it_opens_and_info_when_it_closes(
    breaker: CircuitBreaker, clock: Ticks
) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.strip()), format="{level} {message}")
    try:
        await fail(breaker, 3)
        clock.advance(10)
        await breaker.call(ok)
    finally:
        logger.remove(sink)
    assert lines == [
        "WARNING billing breaker opened (transient faults): calls fail fast for 10s",
        "INFO billing breaker half-open: the next call is a trial",
        "INFO billing breaker closed: the peer answers again",
    ]


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("patient", failure_threshold=0)
    with pytest.raises(ValueError, match="reset_seconds"):
        CircuitBreaker("patient", reset_seconds=0)
