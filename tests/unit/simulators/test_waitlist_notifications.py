"""Which message a waitlist event makes (simulators/notifications.py): an offer names the
doctor, the local start, until when to answer and both links; an expiry and a booking get
a short line; the patient's own steps get none. The events are the service's own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.waitlist import OfferStatus, WaitlistChange, WaitlistEventType, close_offer
from messaging.envelope import waitlist_envelope
from simulators.notifications import Envelope, WaitlistEnvelope, compose_waitlist, parse
from tests.envelopes import event_value
from tests.unit.messaging.waitlist_lifecycle import ACTOR, LINKS, T0, every_type, joined, offered

CHANGES = every_type()


def value(change: WaitlistChange) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(json.dumps(waitlist_envelope(change.event, change.state)))
    return raw


def of_type(kind: WaitlistEventType) -> dict[str, Any]:
    return value(next(c for c in CHANGES if c.event.type is kind))


def read(raw: dict[str, Any]) -> WaitlistEnvelope:
    parsed = parse(json.dumps(raw).encode())
    assert isinstance(parsed, WaitlistEnvelope), parsed
    return parsed


def test_every_waitlist_event_the_service_makes_is_read_as_one() -> None:
    for change in CHANGES:
        parsed = read(value(change))
        assert parsed.entry_id == change.state.id
        assert parsed.data.patient_id == "pat-anna-schmidt"


def test_the_family_is_told_by_the_type() -> None:
    assert isinstance(parse(json.dumps(event_value("appointment.scheduled")).encode()), Envelope)
    # A waitlist type is read as a waitlist event: without its entry, it is skipped.
    broken = of_type(WaitlistEventType.OFFERED)
    del broken["entry_id"]
    assert parse(json.dumps(broken).encode()) is None


def test_an_offer_names_the_doctor_the_local_start_the_deadline_and_both_links() -> None:
    message = compose_waitlist(read(of_type(WaitlistEventType.OFFERED)))
    assert message is not None
    assert (message.recipient, message.channel) == ("pat-anna-schmidt", "sms+email")
    assert message.entry_id == CHANGES[0].state.id
    assert message.appointment_id is None
    # 08:00 UTC is 09:00 in Berlin; the offer expires 75 minutes after T0 (08:00 UTC).
    assert message.text == (
        "A slot with Dr. Noah Fischer on Tue 08 Jan 2030, 09:00 CET is free for you. "
        f"Accept by 10:15 CET: {LINKS['accept']} Decline: {LINKS['decline']}"
    )


def test_an_offer_without_the_doctors_name_names_the_doctor_id() -> None:
    raw = of_type(WaitlistEventType.OFFERED)
    del raw["details"]["doctor_name"]
    del raw["details"]["local_start"]
    message = compose_waitlist(read(raw))
    assert message is not None
    assert message.text.startswith("A slot with doc-on-call on Tue 08 Jan 2030, 09:00 CET")


def test_an_offer_without_its_links_makes_no_message() -> None:
    raw = of_type(WaitlistEventType.OFFERED)
    del raw["details"]["links"]
    assert compose_waitlist(read(raw)) is None


def test_an_expired_offer_and_a_booked_one_get_a_short_line() -> None:
    expired = compose_waitlist(read(of_type(WaitlistEventType.OFFER_EXPIRED)))
    assert expired is not None
    assert expired.channel == "email"
    assert expired.text == (
        "The slot on Tue 08 Jan 2030, 09:00 CET we offered you has gone; you stay on the waitlist."
    )
    booked = compose_waitlist(read(of_type(WaitlistEventType.FULFILLED)))
    assert booked is not None
    assert booked.text == (
        "From the waitlist: the slot on Tue 08 Jan 2030, 09:00 CET is yours, "
        "and your appointment is booked."
    )


def test_an_offer_whose_booking_failed_says_so() -> None:
    offer = offered(joined().state)
    failed = close_offer(
        offer.state, "offer-1", OfferStatus.EXPIRED, T0, "failed", ACTOR, "booking_failed"
    )
    assert failed is not None
    message = compose_waitlist(read(value(failed)))
    assert message is not None
    assert message.text.startswith("We could not book the slot on Tue 08 Jan 2030, 09:00 CET")


@pytest.mark.parametrize(
    "kind",
    [WaitlistEventType.JOINED, WaitlistEventType.OFFER_DECLINED, WaitlistEventType.LEFT],
)
def test_the_patients_own_steps_make_no_message(kind: WaitlistEventType) -> None:
    assert compose_waitlist(read(of_type(kind))) is None
