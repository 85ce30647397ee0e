"""The Temporal worker interceptor that feeds ``SagaInstruments``: step latencies around
every activity attempt, and each saga run's outcome, counted once.

Determinism: the workflow side only *reports*, after ``run`` returned or raised; it issues
no command and reads nothing the workflow acts on, so a history recorded with it replays
without it and the other way round. It reports only when the workflow is not replaying
(the guard of the SDK's replay-safe ``workflow.metric_meter()``; the SDK counts eviction as
replay too), so a query on a closed run, which replays its whole history, counts nothing.
One double count remains possible, as for the SDK's own ``temporal_workflow_completed``
(temporalio/features#222): a completion the server rejects (a signal arrived meanwhile;
our sagas take none) is run again. The count leaves the sandbox through an extern
function, the SDK's hook for exactly this (its OpenTelemetry interceptor uses it too)."""

from __future__ import annotations

import time
from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from telemetry.sagas import SagaInstruments

_SAGA_ENDED = "__appointments_saga_ended"


class SagaMetricsInterceptor(Interceptor):
    def __init__(self, sagas: SagaInstruments) -> None:
        self._sagas = sagas

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedSteps(next, self._sagas)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        input.unsafe_extern_functions[_SAGA_ENDED] = self._sagas.saga_ended
        return _SagaOutcomes


class _TimedSteps(ActivityInboundInterceptor):
    """Runs in the worker's event loop, outside the sandbox: a clock is fine here. Each
    attempt is one observation, so retries of a slow peer show as many slow steps."""

    def __init__(self, next: ActivityInboundInterceptor, sagas: SagaInstruments) -> None:
        super().__init__(next)
        self._sagas = sagas

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        started = time.perf_counter()
        ok = False
        try:
            result = await super().execute_activity(input)
            ok = True
            return result
        except ApplicationError as error:
            info = activity.info()
            if error.non_retryable and _retried_until_done(info):
                self._sagas.step_refused_for_good(info.activity_type, info.workflow_id, error)
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._sagas.step_done(activity.info().activity_type, ok, elapsed)


class _SagaOutcomes(WorkflowInboundInterceptor):
    """Instantiated inside the sandbox for each run."""

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        try:
            result = await super().execute_workflow(input)
        except GeneratorExit:
            raise  # the run is evicted from the worker's cache (a shutdown): no outcome
        except BaseException as error:
            _report(error)
            raise
        _report(None, result)
        return result


def _retried_until_done(info: activity.Info) -> bool:
    """A step with no maximum of attempts and no deadline: one the saga needs finished."""
    policy = info.retry_policy
    return (
        policy is not None and policy.maximum_attempts == 0 and not info.schedule_to_close_timeout
    )


def _report(error: BaseException | None, result: Any = None) -> None:
    if workflow.unsafe.is_replaying():
        return
    try:
        workflow.extern_functions()[_SAGA_ENDED](workflow.info().workflow_type, error, result)
    except Exception:  # a metric must never change how a saga ends
        workflow.logger.exception("saga outcome not counted")
