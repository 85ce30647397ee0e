"""Timeouts and retry policies shared by the sagas: business refusals never retry,
transient faults retry with backoff, compensations and post-commit steps until done."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.errors import NON_RETRYABLE_TYPES

STEP_TIMEOUT = timedelta(seconds=10)
# Peers: a short, bounded retry for transient faults; business refusals never retry.
PEER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=250),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
# Our own database: more patience, it is ours to wait for.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
# Compensations and the steps after a saga's commit point must finish: retried until
# they do (they are idempotent, and nothing can refuse them).
UNTIL_DONE = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)


def until_billing_is_back(maximum_interval_seconds: float) -> RetryPolicy:
    """The invoice of a booking made while Billing was unreachable: retried without limit,
    at most ``maximum_interval_seconds`` apart (the run's setting, captured at its start).
    One pending activity whose attempt count, last failure and next retry the Web UI shows,
    and whose retries add nothing to the history however long Billing stays away. Unlimited
    attempts also tell an open breaker to wait rather than fail (activities/errors.py)."""
    maximum = timedelta(seconds=maximum_interval_seconds)
    return RetryPolicy(
        initial_interval=min(timedelta(seconds=1), maximum),
        maximum_interval=maximum,
        non_retryable_error_types=NON_RETRYABLE_TYPES,
    )
