"""The waitlist's row of the benchmark: each sample is timed from its cancellation's answer
to its own entry's offer on the topic (a fake watcher here, fed by fake doors), every
entry leaves afterwards, a missing offer is an error, not a hang; the target is printed
beside the figures (p99 < 2 s), never asserted; its options."""

from __future__ import annotations

import time

import pytest

from bench.__main__ import options_from, parser, stack_overrides
from bench.outbox import Received
from bench.report import render_report, waitlist_targets
from bench.slots import Slot, SlotPool
from bench.stats import summarize
from bench.waitlist import (
    OFFERED,
    QUICK_SAMPLES,
    SAMPLES,
    WaitlistReport,
    first_offer,
    offer_latency,
    waiting_patient,
)
from tests.unit.bench.test_report import full_report
from tests.unit.bench.test_slots import NOW, FakeCalendar, doctor

PATIENTS = ["pat-a", "pat-b", "pat-c"]


class FakeDoors:
    """The API as the samples use it, with the watcher's view of the topic: a cancellation
    makes its entry's offer arrive ``delay`` seconds after its answer, unless the entry is
    one of ``never_offered``. Another entry's offer and a later event arrive too."""

    def __init__(self, delay: float, never_offered: frozenset[int] = frozenset()) -> None:
        self.delay = delay
        self.never_offered = never_offered
        self.received: list[Received] = []
        self.booked: dict[str, Slot] = {}
        self.entries: dict[str, tuple[Slot, str]] = {}
        self.left: list[str] = []

    async def book(self, slot: Slot) -> str:
        appointment_id = f"appt-{len(self.booked)}"
        self.booked[appointment_id] = slot
        return appointment_id

    async def join(self, slot: Slot, patient_id: str) -> str:
        entry_id = f"entry-{len(self.entries)}"
        self.entries[entry_id] = (slot, patient_id)
        return entry_id

    async def cancel(self, appointment_id: str) -> None:
        index = int(appointment_id.removeprefix("appt-"))
        entry_id = f"entry-{index}"
        now = time.time()
        self.received.append(Received("other", now, now, OFFERED, "someone-else"))
        if index not in self.never_offered:
            at = now + self.delay
            self.received.append(Received(f"e{index}", at, at, OFFERED, entry_id))
            self.received.append(Received(f"f{index}", at + 1, at, "waitlist.left", entry_id))

    async def leave(self, entry_id: str) -> None:
        self.left.append(entry_id)

    def seen(self) -> list[Received]:
        """What has "arrived" by now."""
        now = time.time()
        return [r for r in self.received if r.received_at <= now]


def pool() -> SlotPool:
    return SlotPool([doctor("doc-a"), doctor("doc-b")], PATIENTS, FakeCalendar(), now=NOW)


def test_the_offer_counts_only_when_it_is_the_entrys_and_came_after_the_answer() -> None:
    received = [
        Received("early", 9.0, 9.0, OFFERED, "entry-1"),  # an offer before the cancellation
        Received("other", 10.2, 10.2, OFFERED, "entry-2"),
        Received("joined", 10.3, 10.3, "waitlist.joined", "entry-1"),
        Received("late", 10.9, 10.9, OFFERED, "entry-1"),
        Received("first", 10.5, 10.5, OFFERED, "entry-1"),
    ]
    assert first_offer(received, "entry-1", since=10.0) == 10.5
    assert first_offer(received, "entry-3", since=10.0) is None


def test_the_waiting_patient_is_never_the_one_whose_booking_is_cancelled() -> None:
    chosen = [waiting_patient(PATIENTS, i, "pat-b") for i in range(4)]
    assert chosen == ["pat-a", "pat-c", "pat-a", "pat-c"]
    with pytest.raises(ValueError, match="two patients"):
        waiting_patient(["pat-b"], 0, "pat-b")


async def test_each_sample_is_timed_to_its_own_offer_and_its_entry_leaves() -> None:
    doors = FakeDoors(delay=0.05)
    report = await offer_latency(
        doors, pool(), PATIENTS, doors.seen, samples=4, progress=lambda _: None
    )

    assert (report.samples, report.summary.count, report.summary.errors) == (4, 4, 0)
    assert report.summary.p50_ms is not None
    assert doors.left == ["entry-0", "entry-1", "entry-2", "entry-3"]
    # Each entry waits for the very slot booked and cancelled beside it, another patient's.
    for index, (slot, patient_id) in enumerate(doors.entries.values()):
        assert doors.booked[f"appt-{index}"] == slot
        assert patient_id != slot.patient_id


async def test_an_offer_that_never_comes_is_an_error_and_the_entry_still_leaves() -> None:
    doors = FakeDoors(delay=0.01, never_offered=frozenset({1}))
    report = await offer_latency(
        doors, pool(), PATIENTS, doors.seen, samples=3, progress=lambda _: None, offer_within=0.2
    )

    assert (report.summary.count, report.summary.errors) == (3, 1)
    assert "no waitlist.offered for entry entry-1" in report.summary.first_errors[0]
    assert doors.left == ["entry-0", "entry-1", "entry-2"]


def measured(p99_s: float, errors: int = 0) -> WaitlistReport:
    return WaitlistReport(samples=20, summary=summarize([p99_s] * (20 - errors), errors, 30.0, 1))


def test_the_target_is_judged_against_two_seconds_and_printed_never_asserted() -> None:
    (met,) = waitlist_targets(measured(0.4))
    assert (met.met, met.measured_text, met.goal) == (True, "400 ms", "< 2,000 ms")
    (missed,) = waitlist_targets(measured(2.5, errors=2))
    assert missed.met is False
    assert missed.note == "18 of 20 samples, p50 2,500 ms, 2 without an offer"
    (absent,) = waitlist_targets(None)
    assert (absent.met, absent.note) == (None, "waitlist offers not run")


def test_the_row_is_printed_beside_the_others_and_reads_back() -> None:
    report = full_report()
    report.waitlist = measured(0.4)
    report.targets += waitlist_targets(report.waitlist)

    text = render_report(report)

    assert "Waitlist: a cancellation's answer -> the first waitlist.offered" in text
    row = next(line.split() for line in text.splitlines() if line.lstrip().startswith("20 "))
    assert row == ["20", "20", "0", "400.0", "400.0", "400.0", "400.0"]
    assert "cancellation -> first waitlist offer on Kafka, p99" in text
    assert type(report).model_validate_json(report.model_dump_json()) == report


def test_twenty_samples_by_default_five_when_quick_none_when_told() -> None:
    assert options_from(parser().parse_args([])).waitlist_samples == SAMPLES == 20
    assert options_from(parser().parse_args(["--quick"])).waitlist_samples == QUICK_SAMPLES == 5
    assert options_from(parser().parse_args(["--quick", "--offers", "0"])).waitlist_samples == 0


def test_the_bench_stack_has_no_quiet_hours_unless_told() -> None:
    """No offer goes out in quiet hours: a run at night would time the night."""
    assert stack_overrides(options_from(parser().parse_args([]))) == {"quiet_hours": "off"}
    told = options_from(parser().parse_args(["--set", "quiet_hours=22:00-07:00"]))
    assert stack_overrides(told) == {"quiet_hours": "22:00-07:00"}
