"""Which saga run a request starts or joins, and who is shown the runs.

An Idempotency-Key is its caller's own. The run it names is derived from the caller (the
token's role and subject) and the key (``workflows.contracts.saga.workflow_id``), so two
callers who happen to pick the same key get a run each, and so do the idempotency keys
the run derives from its workflow id (the Doctor Service's hold, Billing's invoices, the
events' ids). The same caller with the same key and the same request joins the run and
gets its answer; with another request, ``IdempotencyKeyReused``.

Before keys were scoped, a run was named by the key alone (``booking-<key>``). Such a run,
started before the upgrade and still running or within the namespace's retention, is
joined by the caller who started it, as that caller's retry expects; for anyone else the
key names a run of their own.

Workflow and Temporal run ids are operators' handles: staff and admin see them (to find a
run in the Temporal Web UI); patients and doctors never do, on any door. ``shown_to``
blanks them in what a use case answers."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from application.access import Requester
from application.permissions import Principal, Role
from application.ports import SagaGateway
from application.results import PendingBooking, SagaRunning
from domain.events import AppointmentEvent
from domain.model import Appointment
from workflows.contracts import saga

# Who sees saga runs' workflow and run ids.
_SEE_RUNS = frozenset({Role.ADMIN, Role.STAFF})


async def run_for(sagas: SagaGateway, kind: str, requester: Requester, key: str) -> str:
    """The workflow id of the ``kind`` saga ("booking", "cancellation", "reschedule")
    that ``requester`` names with Idempotency-Key ``key``: the run this caller started
    under the key before keys were scoped, if there is one; otherwise the caller's own."""
    actor = requester.principal.actor
    legacy = saga.legacy_workflow_id(kind, key)
    if await sagas.started_by(legacy) == actor:
        return legacy
    return saga.workflow_id(kind, actor, key)


def sees_runs(who: Principal) -> bool:
    """Whether ``who`` is shown saga runs' workflow and run ids: staff and admin."""
    return who.role in _SEE_RUNS


Shown = TypeVar("Shown", Appointment, SagaRunning, PendingBooking, AppointmentEvent)


def shown_to(who: Principal, result: Shown) -> Shown:
    """``result`` as ``who`` may see it: without workflow and run ids unless ``who`` sees
    runs."""
    if sees_runs(who):
        return result
    if isinstance(result, Appointment):
        return dataclasses.replace(result, booking_workflow_id=None)
    if isinstance(result, AppointmentEvent):
        context = dataclasses.replace(result.context, workflow_id=None, run_id=None)
        return dataclasses.replace(result, context=context)
    return dataclasses.replace(result, workflow_id=None)
