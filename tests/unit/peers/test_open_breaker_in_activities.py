"""How an open breaker crosses into Temporal (``activities/errors.py``): a step with a
retry budget fails fast and for good, a step retried until done waits for the breaker."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.errors import (
    CIRCUIT_OPEN,
    NON_RETRYABLE_TYPES,
    refusals_are_final,
)
from domain.errors import PeerUnavailable, SlotUnavailable
from peers.breaker import BreakerOpen

BOUNDED = RetryPolicy(maximum_attempts=5)
UNBOUNDED = RetryPolicy(maximum_interval=timedelta(seconds=30))


async def step(error: Exception) -> None:
    async with refusals_are_final():
        raise error


def environment(
    policy: RetryPolicy | None, schedule_to_close: timedelta | None
) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        ActivityEnvironment.default_info(),
        retry_policy=policy,
        schedule_to_close_timeout=schedule_to_close,
    )
    return env


async def raised(env: ActivityEnvironment, error: Exception) -> Exception:
    try:
        await env.run(step, error)
    except Exception as escaped:
        return escaped
    raise AssertionError("the step did not fail")


async def test_a_forward_step_fails_fast_and_for_good() -> None:
    error = await raised(environment(BOUNDED, None), BreakerOpen("billing", 12.5))
    assert isinstance(error, ApplicationError)
    assert error.type == CIRCUIT_OPEN
    assert error.non_retryable
    assert "billing" in error.message
    assert error.details == ({"peer": "billing", "retry_after": 12.5},)


@pytest.mark.parametrize("schedule_to_close", [None, timedelta(0)])
async def test_a_step_retried_until_done_waits_for_the_breaker(
    schedule_to_close: timedelta | None,
) -> None:
    error = await raised(environment(UNBOUNDED, schedule_to_close), BreakerOpen("doctor", 7.0))
    assert isinstance(error, ApplicationError)
    assert error.type == "BreakerOpen"
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=7)
    assert error.type not in NON_RETRYABLE_TYPES  # the policy must not stop it either


async def test_a_deadline_makes_a_step_bounded() -> None:
    env = environment(UNBOUNDED, timedelta(minutes=1))
    error = await raised(env, BreakerOpen("billing", 3.0))
    assert isinstance(error, ApplicationError)
    assert error.non_retryable


async def test_without_a_known_policy_the_step_waits() -> None:
    error = await raised(environment(None, None), BreakerOpen("billing", 0.0))
    assert isinstance(error, ApplicationError)
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=0.1)


async def test_other_errors_are_unchanged() -> None:
    env = environment(BOUNDED, None)
    refusal = await raised(env, SlotUnavailable("taken"))
    assert isinstance(refusal, ApplicationError)
    assert (refusal.type, refusal.non_retryable) == ("SlotUnavailable", True)
    transient = PeerUnavailable("billing", "HTTP 503")
    assert await raised(env, transient) is transient  # left to the retry policy


def test_the_retry_policies_never_retry_an_open_circuit() -> None:
    assert CIRCUIT_OPEN in NON_RETRYABLE_TYPES


async def test_a_forward_step_refused_during_a_trial_asks_again_after_it() -> None:
    refused = BreakerOpen("billing", 1.0, trial_running=True)
    error = await raised(environment(BOUNDED, None), refused)
    assert isinstance(error, ApplicationError)
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=1)
