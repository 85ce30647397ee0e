"""Reversing a wrongly recorded no-show (``SagaChanges.reverse_no_show``): staff and admin
only; a no-show recorded less than 24 h ago becomes CHECKED_IN or COMPLETED and its fee is
voided; what the stored appointment already refuses starts no run; a retried key joins
its run."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from pydantic import ValidationError

from application.access import Requester
from application.commands import NoShowReversalDetails, ReverseNoShow
from application.errors import IdempotencyKeyReused
from application.permissions import Forbidden, Role
from application.results import SagaRunning
from domain import model
from domain.errors import IllegalTransition, NoShowReversalClosed
from domain.events import EventContext, EventType, event_id_for
from domain.model import Appointment
from domain.status import AppointmentStatus
from tests.fakes import World
from tests.unit.application.support import (
    ADMIN,
    EARLIER,
    STAFF,
    THE_DOCTOR,
    THE_PATIENT,
    key,
)
from workflows.contracts import no_show_reversal
from workflows.contracts.no_show_reversal import NoShowReversalRequest

S = AppointmentStatus


def reverse(
    appointment: Appointment, to: str = "CHECKED_IN", k: str | None = None, reason: str = "late"
) -> ReverseNoShow:
    return ReverseNoShow(
        appointment_id=appointment.id,
        reversal=NoShowReversalDetails(to=to, reason=reason),  # type: ignore[arg-type]
        idempotency_key=k or key("reverse"),
    )


async def a_no_show(world: World, fee_invoice_id: str | None = "inv-no-show") -> Appointment:
    """A no-show of the appointment that started an hour ago, recorded 15 minutes after its
    start, with the invoice of its fee."""
    scheduled = await world.repository.plant(start=EARLIER)
    fee = {"no_show_invoice_id": fee_invoice_id} if fee_invoice_id else {}
    return await world.repository.commit(
        model.transition(
            scheduled,
            S.NO_SHOW,
            event_id=event_id_for(f"{scheduled.id}/no-show"),
            now=EARLIER + timedelta(minutes=15),
            context=EventContext(actor="system:journey"),
            **fee,
        )
    )


@pytest.mark.parametrize("to", ["CHECKED_IN", "COMPLETED"])
@pytest.mark.parametrize("who", [STAFF, ADMIN], ids=["staff", "admin"])
async def test_staff_reverse_a_no_show_and_its_fee_is_voided(
    world: World, to: str, who: Requester
) -> None:
    no_show = await a_no_show(world)
    requester = dataclasses.replace(who, request_id="r-7")

    reversed_ = await world.services.sagas.reverse_no_show(reverse(no_show, to), requester, 1.0)

    assert isinstance(reversed_, Appointment)
    assert (reversed_.status, reversed_.no_show_invoice_id) == (S(to), None)
    [request] = world.sagas.requests
    assert isinstance(request, NoShowReversalRequest)
    assert (request.appointment_id, request.target, request.reason) == (no_show.id, to, "late")
    assert (request.caller.actor, request.caller.request_id) == (requester.principal.actor, "r-7")
    assert world.sagas.workflow_ids[0].startswith(f"{no_show_reversal.SAGA}-")
    events = (await world.repository.history(no_show.id))[-2:]
    assert [e.type for e in events] == [EventType.NO_SHOW_REVERSED, EventType.NO_SHOW_FEE_VOIDED]


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.PATIENT])
async def test_doctors_and_patients_may_not_reverse_a_no_show(world: World, role: Role) -> None:
    """Not even their own: 403, and no run."""
    no_show = await a_no_show(world)
    with pytest.raises(Forbidden, match="may not reverse no-shows"):
        await world.services.sagas.reverse_no_show(
            reverse(no_show), THE_DOCTOR if role is Role.DOCTOR else THE_PATIENT, 1.0
        )
    assert world.sagas.requests == []
    assert (await world.repository.get(no_show.id)) == no_show


async def test_a_no_show_older_than_24_hours_stays_and_no_run_starts(world: World) -> None:
    no_show = await a_no_show(world)
    assert no_show.no_show_at is not None
    world.now = no_show.no_show_at + timedelta(hours=24, minutes=1)

    with pytest.raises(NoShowReversalClosed, match="may be reversed for 24 h"):
        await world.services.sagas.reverse_no_show(reverse(no_show), STAFF, 1.0)

    assert world.sagas.requests == [], "no run started"
    assert (await world.repository.get(no_show.id)) == no_show


@pytest.mark.parametrize("status", [S.SCHEDULED, S.CHECKED_IN, S.COMPLETED, S.CANCELLED])
async def test_only_a_no_show_is_reversed(world: World, status: AppointmentStatus) -> None:
    appointment = await world.repository.plant(start=EARLIER, status=status)
    with pytest.raises(IllegalTransition, match="cannot become no-show reversed"):
        await world.services.sagas.reverse_no_show(reverse(appointment), STAFF, 1.0)
    assert world.sagas.requests == []


@pytest.mark.parametrize("to", ["NO_SHOW", "SCHEDULED", "CANCELLED", "checked_in", ""])
def test_a_reversal_becomes_checked_in_or_completed_only(to: str) -> None:
    """The command refuses any other target (REST and GraphQL answer it 422)."""
    with pytest.raises(ValidationError) as refused:
        NoShowReversalDetails(to=to)  # type: ignore[arg-type]
    assert refused.value.errors()[0]["loc"] == ("to",)


async def test_a_retried_reversal_joins_its_run_though_the_state_now_refuses(
    world: World,
) -> None:
    """The key's run reversed the no-show: a retry is answered from that run, not refused
    by the CHECKED_IN status it left, and nothing is reversed twice."""
    no_show = await a_no_show(world)
    command = reverse(no_show, k=key("once"))
    first = await world.services.sagas.reverse_no_show(command, STAFF, 1.0)
    commits = world.repository.commits

    again = await world.services.sagas.reverse_no_show(command, STAFF, 1.0)

    assert again == first
    assert world.repository.commits == commits
    assert len(set(world.sagas.workflow_ids)) == 1


async def test_a_key_reused_with_another_target_is_refused(world: World) -> None:
    no_show = await a_no_show(world)
    same = key("same")
    await world.services.sagas.reverse_no_show(reverse(no_show, "CHECKED_IN", same), STAFF, 1.0)
    with pytest.raises(IdempotencyKeyReused):
        await world.services.sagas.reverse_no_show(reverse(no_show, "COMPLETED", same), STAFF, 1.0)


async def test_a_reversal_that_outlasts_the_wait_is_answered_running(world: World) -> None:
    no_show = await a_no_show(world, fee_invoice_id=None)
    world.sagas.answer = "running"
    answer = await world.services.sagas.reverse_no_show(reverse(no_show), STAFF, 1.0)
    assert isinstance(answer, SagaRunning)
    assert answer.workflow_id == world.sagas.workflow_ids[0]
