"""The waitlist's event contract (messaging/schemas/waitlist-event.v1.schema.json): every
event the domain makes meets it, a broken one is refused naming the field, the relay
refuses a row keyed by anything but its entry, and the appointment contract still holds
for everything that is not a waitlist event."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs among the dev dependencies

from domain.waitlist import (
    EntryStatus,
    OfferStatus,
    WaitlistEventType,
    make_offer,
)
from messaging.contract import (
    SCHEMA_FILE,
    WAITLIST_SCHEMA_FILE,
    ContractViolation,
    schema,
    schema_file,
    schema_for,
    validate_envelope,
    waitlist_schema,
)
from messaging.envelope import envelope as appointment_envelope
from messaging.envelope import waitlist_envelope
from messaging.outbox import OutboxRow
from messaging.publish import defect, key_field, publish_batch
from tests.unit.messaging.lifecycles import edits
from tests.unit.messaging.waitlist_lifecycle import (
    ACTOR,
    LINKS,
    T0,
    every_type,
    joined,
    offered,
)

MESSAGING = Path(str(resources.files("messaging")))
CHANGES = every_type()


def by_type(kind: WaitlistEventType) -> dict[str, Any]:
    change = next(c for c in CHANGES if c.event.type is kind)
    return copy.deepcopy(waitlist_envelope(change.event, change.state))


def test_every_type_is_made_and_meets_the_contract() -> None:
    assert {c.event.type for c in CHANGES} == set(WaitlistEventType)
    for change in CHANGES:
        envelope = waitlist_envelope(change.event, change.state)
        validate_envelope(envelope)
        assert json.loads(json.dumps(envelope)) == envelope
        assert envelope["entry_id"] == change.state.id == envelope["data"]["id"]
        assert envelope["data"]["version"] == change.event.seq


def test_the_envelope_carries_the_entry_and_its_offers_but_not_its_note() -> None:
    envelope = by_type(WaitlistEventType.FULFILLED)
    assert set(envelope) == {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "entry_id",
        "actor",
        "data",
        "details",
    }
    data = envelope["data"]
    described = waitlist_schema()["$defs"]["entry"]
    assert set(data) == set(described["properties"]) == set(described["required"])
    assert "note" not in data
    assert "cough" not in json.dumps([waitlist_envelope(c.event, c.state) for c in CHANGES])
    assert (data["status"], data["appointment_id"], data["priority"]) == (
        "FULFILLED",
        "appt-1",
        "urgent",
    )
    assert [o["status"] for o in data["offers"]] == ["EXPIRED", "DECLINED", "ACCEPTED"]
    offer = data["offers"][-1]
    assert set(offer) == set(waitlist_schema()["$defs"]["offer"]["properties"])
    assert offer["start"] == "2030-01-08T08:00:00+00:00"
    assert datetime.fromisoformat(offer["closed_at"]).utcoffset() == timedelta(0)
    assert envelope["details"] == {"offer_id": "offer-3", "appointment_id": "appt-1"}


def test_an_offer_tells_its_slot_expiry_and_links_as_json() -> None:
    details = by_type(WaitlistEventType.OFFERED)["details"]
    assert details["start"] == "2030-01-08T08:00:00+00:00"
    assert details["expires_at"] == "2030-01-01T09:15:00.123000+00:00"
    assert details["links"] == LINKS
    left = by_type(WaitlistEventType.LEFT)
    assert left["details"] == {"because": "window_passed"}
    assert left["data"]["left_because"] == "window_passed"
    assert by_type(WaitlistEventType.JOINED).get("details") is None


def test_the_schema_types_are_exactly_the_waitlist_event_types() -> None:
    contract = waitlist_schema()
    assert set(contract["properties"]["type"]["enum"]) == {t.value for t in WaitlistEventType}
    statuses = contract["$defs"]["entry"]["properties"]["status"]["enum"]
    assert set(statuses) == {s.value for s in EntryStatus}
    offer_statuses = contract["$defs"]["offer"]["properties"]["status"]["enum"]
    assert set(offer_statuses) == {s.value for s in OfferStatus}


def test_the_family_is_picked_by_the_type_prefix() -> None:
    assert schema_file("waitlist.offered") == WAITLIST_SCHEMA_FILE
    assert schema_file("appointment.scheduled") == SCHEMA_FILE
    assert schema_file(None) == SCHEMA_FILE
    assert schema_for("waitlist.left") == waitlist_schema()
    assert schema_for("appointment.cancelled") == schema()
    # A waitlist envelope dressed as an appointment event is held to that contract.
    envelope = by_type(WaitlistEventType.JOINED)
    envelope["type"] = "appointment.requested"
    with pytest.raises(ContractViolation, match="'appointment_id' is a required property"):
        validate_envelope(envelope)


def broken(kind: WaitlistEventType, path: str, value: Any = None) -> dict[str, Any]:
    envelope = by_type(kind)
    *parents, last = path.split(".")
    target = envelope
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return envelope


J, OF, E, D, F, L = (
    WaitlistEventType.JOINED,
    WaitlistEventType.OFFERED,
    WaitlistEventType.OFFER_EXPIRED,
    WaitlistEventType.OFFER_DECLINED,
    WaitlistEventType.FULFILLED,
    WaitlistEventType.LEFT,
)


@pytest.mark.parametrize(
    ("envelope", "complaint"),
    [
        (broken(J, "entry_id"), "'entry_id' is a required property"),
        (broken(J, "data.latest_start"), "'latest_start' is a required property"),
        (broken(J, "data.earliest_start", "2030-01-07T08:00:00"), "data/earliest_start:"),
        (broken(J, "data.status", "OFFERED"), "data/status: 'WAITING' was expected"),
        (broken(J, "data.priority", "asap"), "data/priority: 'asap' is not one of"),
        (broken(J, "type", "waitlist.teleported"), "type: 'waitlist.teleported' is not one"),
        (broken(J, "schema_version", 2), "schema_version: 1 was expected"),
        (broken(OF, "details"), "'details' is a required property"),
        (broken(OF, "details.links.accept"), "'accept' is a required property"),
        (broken(OF, "details.links.decline", "/a/x"), "details/links/decline: '/a/x' does not"),
        (broken(OF, "details.expires_at", "soon"), "details/expires_at: 'soon'"),
        (broken(OF, "data.offers.0.status", "MAYBE"), "data/offers/0/status: 'MAYBE' is not"),
        (broken(E, "details.offer_id"), "'offer_id' is a required property"),
        (broken(D, "data.status", "OFFERED"), "data/status: 'WAITING' was expected"),
        (broken(F, "details.appointment_id"), "'appointment_id' is a required property"),
        (broken(F, "data.appointment_id", 7), "data/appointment_id: 7 is not of type 'string'"),
        (broken(L, "details.because", "bored"), "details/because: 'bored' is not one of"),
    ],
    ids=[
        "no-entry-id",
        "no-window-end",
        "instant-without-offset",
        "status-contradicts-type",
        "unknown-priority",
        "unknown-type",
        "other-version",
        "offer-without-details",
        "offer-without-accept-link",
        "relative-decline-link",
        "expiry-not-an-instant",
        "unknown-offer-status",
        "expiry-without-offer",
        "declined-still-offered",
        "fulfilled-without-booking",
        "booking-not-text",
        "unknown-leaving",
    ],
)
def test_a_broken_waitlist_event_is_refused_naming_the_field(
    envelope: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ContractViolation) as refused:
        validate_envelope(envelope)
    assert complaint in str(refused.value)


def row(envelope: dict[str, Any], key: str) -> OutboxRow:
    return OutboxRow(
        id=envelope["event_id"],
        topic="waitlist.events",
        key=key,
        seq=1,
        created_at=T0,
        envelope=envelope,
        attempts=0,
    )


def test_a_waitlist_row_must_be_keyed_by_its_entry() -> None:
    envelope = by_type(WaitlistEventType.OFFERED)
    entry_id = envelope["entry_id"]
    assert key_field(envelope) == "entry_id"
    assert defect(row(envelope, entry_id)) is None
    assert defect(row(envelope, "another-entry")) == (
        "contract violation: the key is not the envelope's entry_id"
    )


def test_an_appointment_row_must_still_be_keyed_by_its_appointment() -> None:
    change = next(edits(1, "4d2cf818-9b9c-487a-baa4-2a023e93b2a9"))
    value = appointment_envelope(change.event, change.state)
    assert key_field(value) == "appointment_id"
    assert defect(row(value, change.state.id)) is None
    assert defect(row(value, "another")) == (
        "contract violation: the key is not the envelope's appointment_id"
    )


def test_an_offer_event_without_details_breaks_the_contract() -> None:
    """The store writes what the round gives it: an offer made without the details the
    notification needs is parked by the relay instead of reaching the patient blank."""
    bare = make_offer(
        joined().state,
        dataclasses.replace(offered(joined().state).state.offers[-1], id="offer-bare"),
        "bare",
        ACTOR,
    )
    with pytest.raises(ContractViolation, match="'details' is a required property"):
        validate_envelope(waitlist_envelope(bare.event, bare.state))


def test_asyncapi_has_the_waitlist_channel_with_every_type() -> None:
    spec = yaml.safe_load((MESSAGING / "asyncapi.yaml").read_text())
    channel = spec["channels"]["waitlistEvents"]
    assert channel["address"] == channel["bindings"]["kafka"]["topic"] == "waitlist.events"
    messages = {
        key: message
        for key, message in spec["components"]["messages"].items()
        if message["name"].startswith("waitlist.")
    }
    assert {m["name"] for m in messages.values()} == {t.value for t in WaitlistEventType}
    for message in messages.values():
        refs = [part["$ref"] for part in message["payload"]["schema"]["allOf"] if "$ref" in part]
        assert refs == [f"./schemas/{WAITLIST_SCHEMA_FILE}"]
        assert (MESSAGING / refs[0]).is_file()
    on_channel = {ref["$ref"].rsplit("/", 1)[1] for ref in channel["messages"].values()}
    assert on_channel == set(messages)
    operation = spec["operations"]["publishWaitlistEvent"]
    assert operation["action"] == "send"
    assert operation["channel"]["$ref"] == "#/channels/waitlistEvents"
    assert len(operation["messages"]) == len(messages)
    examples = [e["payload"] for m in messages.values() for e in m.get("examples", [])]
    assert [e["type"] for e in examples] == ["waitlist.offered"]
    for example in examples:
        validate_envelope(example)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_and_wait(self, topic: str, value: Any = None, key: Any = None) -> None:
        self.sent.append((topic, key))


async def test_the_relay_sends_each_row_to_its_own_topic() -> None:
    change = next(edits(1, "4d2cf818-9b9c-487a-baa4-2a023e93b2a9"))
    appointment = dataclasses.replace(
        row(appointment_envelope(change.event, change.state), change.state.id),
        topic="appointment.events",
    )
    waitlist = row(by_type(WaitlistEventType.OFFERED), CHANGES[0].state.id)
    producer = Recorder()
    outcome = await publish_batch(producer, [appointment, waitlist], send_timeout=1)
    assert outcome.clean
    assert sorted(producer.sent) == [
        ("appointment.events", change.state.id),
        ("waitlist.events", CHANGES[0].state.id),
    ]
