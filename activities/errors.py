"""How our errors cross into Temporal: a business refusal becomes a non-retryable
ApplicationError whose ``type`` names the domain error; anything else is left to the
retry policy (a transient fault).

An open circuit breaker (``peers.breaker.BreakerOpen``) depends on the step:

- a step with a retry budget (the forward steps of a saga, ``PEER_RETRY``) fails fast
  with a non-retryable ``PeerCircuitOpen``: its few retries would all hit the open breaker
  anyway, and the saga compensates at once instead of after the budget. Only while the
  breaker is half-open and another call's trial is running does it retry, after the
  trial has decided;
- a step retried until done (compensations and post-commit steps, ``UNTIL_DONE``) must
  finish, so it gets a retryable ``BreakerOpen`` whose next retry is due when the breaker
  lets a trial call through, rather than whenever the exponential backoff says.

The step's retry policy, as the workflow stated it at the call site, is what tells the
two apart; an activity does not need to know which role it plays in which saga."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import (
    BUSINESS_ERRORS,
    DomainError,
    PeerContractError,
    PeerFault,
    PeerRequestInvalid,
)
from peers.breaker import BreakerOpen

CIRCUIT_OPEN = "PeerCircuitOpen"
# Bugs, not outages: a retry sends the same request and gets the same answer.
PEER_FAULTS: tuple[type[PeerFault], ...] = (PeerContractError, PeerRequestInvalid)

# Listed in every retry policy's non_retryable_error_types too, so the rule holds even if
# an error escapes without going through refusals_are_final. PeerCircuitOpen is only ever
# raised non-retryable; the retryable form of an open breaker has its own type
# (BreakerOpen), so listing it here can never stop a compensation.
NON_RETRYABLE_TYPES: list[str] = [cls.__name__ for cls in (*BUSINESS_ERRORS, *PEER_FAULTS)] + [
    CIRCUIT_OPEN
]


def as_application_error(error: DomainError) -> ApplicationError:
    return ApplicationError(
        error.detail,
        {"code": error.code, "title": error.title, "detail": error.detail},
        type=type(error).__name__,
        non_retryable=True,
    )


def retried_until_done() -> bool:
    """Whether the running activity is retried without limit (no maximum of attempts, no
    schedule-to-close timeout). When the server did not say, assume it is: waiting for an
    open breaker costs a bounded step only its budget, while failing a compensation for
    good would leave a hold or an invoice behind."""
    info = activity.info()
    policy = info.retry_policy
    if policy is None:
        return True
    # The server may send an unset schedule-to-close timeout as zero: no limit either.
    return policy.maximum_attempts == 0 and not info.schedule_to_close_timeout


def circuit_open_error(error: BreakerOpen) -> ApplicationError:
    detail = f"{error.peer} service: {error.detail}"  # e.g. "circuit open, next try in 9.8s"
    # Half-open, another call's trial decides within a peer timeout: any step can afford
    # to ask again after it rather than give up on a peer that may be back.
    if error.trial_running or retried_until_done():
        return ApplicationError(
            detail,
            {"peer": error.peer, "retry_after": error.retry_after},
            type=type(error).__name__,
            next_retry_delay=timedelta(seconds=max(error.retry_after, 0.1)),
        )
    return ApplicationError(
        detail,
        {"peer": error.peer, "retry_after": error.retry_after},
        type=CIRCUIT_OPEN,
        non_retryable=True,
    )


@asynccontextmanager
async def refusals_are_final() -> AsyncIterator[None]:
    """Around an activity's calls: a refusal ends the step for good, an open breaker ends
    it or waits for the breaker as the step's retry policy says (module docstring)."""
    try:
        yield
    except DomainError as error:
        raise as_application_error(error) from error
    except BreakerOpen as error:
        raise circuit_open_error(error) from error
    except PeerFault as error:
        raise ApplicationError(str(error), type=type(error).__name__, non_retryable=True) from error
