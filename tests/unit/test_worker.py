"""The worker runs its workflows outside the sandbox unless the settings ask for it (the
workflow tests run them sandboxed)."""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from config import load_settings
from worker import workflow_runner


def test_the_worker_runs_workflows_unsandboxed_by_default() -> None:
    assert isinstance(workflow_runner(load_settings()), UnsandboxedWorkflowRunner)


def test_the_sandbox_is_one_setting_away() -> None:
    runner = workflow_runner(load_settings(workflow_sandbox=True))
    assert isinstance(runner, SandboxedWorkflowRunner)
