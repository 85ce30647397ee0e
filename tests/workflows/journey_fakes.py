"""Fakes of the journey's activities (activities/journey.py), with their real names and input
types: a fake store of one appointment, whose facts a test changes as the lifecycle would
(telling the journey by its signal, or not: a lost signal), and a record of every call
with the test server's time its attempt was scheduled at."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import activity

from activities.journey import JourneyActivities
from activities.models import (
    FeeOrder,
    InvoiceVoid,
    IssuedInvoice,
    JourneyRef,
    NoShowCheck,
    NoShowPlan,
    NoShowRecord,
    NoShowRecorded,
    ReminderOrder,
    ReminderResult,
)
from activities.peers import PeerActivities
from domain.model import REMINDABLE
from domain.status import AppointmentStatus
from tests.waiting import eventually_async
from workflows.contracts.journey import Facts


@dataclass(frozen=True)
class Call:
    name: str
    arg: Any
    at: datetime  # the test server's time its attempt was scheduled at

    @property
    def minute(self) -> datetime:
        """``at`` to the minute: a timer fires at its instant, the activity it starts is
        scheduled within the same minute (every planned instant is on the minute)."""
        return self.at.replace(second=0, microsecond=0)


@dataclass
class JourneyWorld:
    """The stored appointment (``facts``), its no-show fee, and what the fakes were asked.
    ``checked_in_meanwhile``: record_no_show finds the patient checked in after the plan
    (the fee must be voided)."""

    facts: Facts
    appointment_id: str = field(default_factory=lambda: f"appt-{uuid.uuid4()}")
    patient_id: str = "pat-1"
    fee_cents: int = 2500
    checked_in_meanwhile: bool = False
    calls: list[Call] = field(default_factory=list)

    def change(self, **update: Any) -> Facts:
        """A change committed at the store (a new version); what a signal would carry."""
        self.facts = self.facts.model_copy(update={"version": self.facts.version + 1, **update})
        return self.facts

    def of(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    def reminders(self) -> list[tuple[int, datetime, datetime]]:
        """Each send_reminder call: (offset, the start it was for, its minute)."""
        return [
            (call.arg.offset_minutes, call.arg.start, call.minute)
            for call in self.of("send_reminder")
        ]

    async def called(self, name: str, count: int = 1) -> list[Call]:
        """Wait (a deadline against a hang) until ``name`` was called ``count`` times."""

        async def enough() -> list[Call] | None:
            calls = self.of(name)
            return calls if len(calls) >= count else None

        return await eventually_async(enough, 30.0, f"{count} call(s) of {name}")

    def _record(self, name: str, arg: Any) -> datetime:
        at = activity.info().current_attempt_scheduled_time
        self.calls.append(Call(name, arg, at))
        return at

    @activity.defn(name="journey_facts")
    async def journey_facts(self, ref: JourneyRef) -> Facts:
        self._record("journey_facts", ref)
        return self.facts

    @activity.defn(name="send_reminder")
    async def send_reminder(self, order: ReminderOrder) -> ReminderResult:
        at = self._record("send_reminder", order)
        facts = self.facts
        applies = (
            facts.status in REMINDABLE
            and facts.start == order.start
            and at < facts.start
            and order.offset_minutes not in facts.reminders_sent
        )
        if applies:
            self.change(reminders_sent=(*facts.reminders_sent, order.offset_minutes))
        return ReminderResult(facts=self.facts, sent=applies)

    @activity.defn(name="plan_no_show")
    async def plan_no_show(self, check: NoShowCheck) -> NoShowPlan:
        at = self._record("plan_no_show", check)
        return NoShowPlan(
            facts=self.facts,
            applies=self._no_show_applies(check.start, at),
            patient_id=self.patient_id,
            fee_cents=self.fee_cents,
        )

    @activity.defn(name="record_no_show")
    async def record_no_show(self, record: NoShowRecord) -> NoShowRecorded:
        at = self._record("record_no_show", record)
        if self.checked_in_meanwhile:
            self.change(status=AppointmentStatus.CHECKED_IN)
        recorded = self._no_show_applies(record.start, at)
        if recorded:
            self.change(status=AppointmentStatus.NO_SHOW)
        return NoShowRecorded(facts=self.facts, recorded=recorded)

    def _no_show_applies(self, start: datetime, now: datetime) -> bool:
        facts = self.facts
        return facts.status in REMINDABLE and facts.start == start and now >= start

    @activity.defn(name="issue_fee")
    async def issue_fee(self, order: FeeOrder) -> IssuedInvoice:
        self._record("issue_fee", order)
        return IssuedInvoice(invoice_id="inv-no-show")

    @activity.defn(name="void_invoice")
    async def void_invoice(self, void: InvoiceVoid) -> None:
        self._record("void_invoice", void)

    def activities(self, peers: bool = True) -> list[Any]:
        """The journey's activities; with ``peers``, Billing's two it calls (a saga's
        worker has its own fakes of those, tests/workflows/fakes.py)."""
        own = [self.journey_facts, self.send_reminder, self.plan_no_show, self.record_no_show]
        return [*own, self.issue_fee, self.void_invoice] if peers else own


def definitions(*callables: Any) -> dict[str, list[type] | None]:
    """Each activity's name and input types, as Temporal reads them."""
    found = {}
    for member in callables:
        definition = activity._Definition.from_callable(member)
        assert definition is not None
        assert definition.name
        found[definition.name] = definition.arg_types
    return found


def real_journey_activities() -> dict[str, list[type] | None]:
    """What the journey's worker runs: JourneyActivities, and Billing's fee and void."""
    return definitions(
        *(
            member
            for member in vars(JourneyActivities).values()
            if callable(member) and activity._Definition.from_callable(member)
        ),
        PeerActivities.issue_fee,
        PeerActivities.void_invoice,
    )
