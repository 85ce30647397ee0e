"""A late reschedule is a late change: it carries the fee of the policy captured at
booking, charged before the move and voided with the rest if the move does not happen."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeWorld, refusal
from tests.workflows.test_lifecycle_workflows import refused, reschedule, run
from workflows.reschedule import RescheduleWorkflow


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


async def test_a_late_reschedule_charges_the_fee_and_the_move_carries_its_invoice(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.fee_cents = 1500
    outcome = await run(workflow_env, world, RescheduleWorkflow.run, reschedule())
    assert outcome.status == "SCHEDULED"
    assert world.calls[:3] == ["prepare_reschedule", "issue_fee", "check_availability"]
    fee = world.inputs["issue_fee"]
    assert (fee.amount_cents, fee.what, fee.patient_id) == (1500, "Late reschedule fee", "pat-1")
    assert fee.idempotency_key.endswith("/fee")
    assert world.inputs["move_appointment"].fee_invoice_id == "inv-fee"
    assert "void_invoice" not in world.calls, "nothing is undone"


async def test_a_reschedule_in_time_charges_nothing(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    outcome = await run(workflow_env, world, RescheduleWorkflow.run, reschedule())
    assert outcome.status == "SCHEDULED"
    assert "issue_fee" not in world.calls
    assert world.inputs["move_appointment"].fee_invoice_id is None


async def test_a_move_refused_after_the_fee_was_charged_voids_the_fee(
    workflow_env: WorkflowEnvironment, world: FakeWorld
) -> None:
    world.fee_cents = 1500
    world.always_fail["move_appointment"] = refusal("ConcurrencyConflict")
    assert await refused(workflow_env, world, RescheduleWorkflow.run, reschedule()) == (
        "ConcurrencyConflict"
    )
    voided = {void.idempotency_key.rsplit("/", 1)[-1] for void in world.inputs_of("void_invoice")}
    assert voided == {"fee", "invoice"}, "the fee and the new time's invoice are voided"
    assert world.attempts("void_invoice") == world.completed.count("void_invoice") == 2
    assert "release_slot" in world.completed, "the new hold is released"
    assert "void_invoice_id:inv-old" not in world.calls, "the original stays invoiced"
    assert "release_hold:hold-old" not in world.calls, "the original slot stays booked"
