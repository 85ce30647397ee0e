"""The event contract (messaging/schemas, messaging/asyncapi.yaml) describes exactly what
the service produces, and the relay's check refuses what breaks it."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs among the dev dependencies

from domain.events import SCHEMA_VERSION, EventType
from domain.model import Appointment, Change
from domain.status import AppointmentStatus
from messaging.contract import SCHEMA_FILE, ContractViolation, schema, validate_envelope
from messaging.envelope import envelope
from tests.unit.messaging.lifecycles import every_event_type

MESSAGING = Path(str(resources.files("messaging")))
CHANGES = every_event_type()


def envelope_of(change: Change) -> dict[str, Any]:
    # The very function outbox_row uses; it needs no database (outbox_row's Beanie
    # document does). The integration tests validate rows written by the unit of work.
    return envelope(change.event, change.state)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: f"{c.event.seq}-{c.event.type.value}")
def test_every_event_the_domain_makes_meets_the_contract(change: Change) -> None:
    envelope = envelope_of(change)
    validate_envelope(envelope)
    # The Kafka value is JSON: the envelope survives a round trip unchanged.
    assert json.loads(json.dumps(envelope)) == envelope
    assert envelope["schema_version"] == SCHEMA_VERSION


# Fields added within version 1, after consumers existed: optional (outbox rows written
# before them lack them, and the relay still publishes those).
ADDED_IN_V1 = {
    "late_reschedule_counts",
    "fee_invoice_id",
    "reminders_sent",
    "no_show_fee_cents",
    "no_show_at",
    "no_show_invoice_id",
}
# The envelope's optional parts: only an event with something to tell has them.
OPTIONAL_IN_ENVELOPE = {"details"}
TOLD_IN_DETAILS = {EventType.REMINDER_DUE, EventType.NO_SHOW_FEE_VOIDED}


def test_the_schema_names_every_field_the_service_writes() -> None:
    """additionalProperties stays open for consumers, so this is what keeps the schema
    honest: every field produced is declared, required unless it was added within version
    1, and nothing more."""
    contract = schema()
    data_schema = contract["$defs"]["appointment"]
    for change in CHANGES:
        envelope = envelope_of(change)
        assert set(contract["required"]) == set(contract["properties"]) - OPTIONAL_IN_ENVELOPE
        assert set(contract["required"]) <= set(envelope) <= set(contract["properties"])
        assert ("details" in envelope) is (change.event.type in TOLD_IN_DETAILS)
        assert set(envelope["data"]) == set(data_schema["properties"])
        assert set(data_schema["required"]) == set(data_schema["properties"]) - ADDED_IN_V1
    fields = set(Appointment.__dataclass_fields__) | {"end", "changed"}
    assert set(data_schema["properties"]) == fields


def test_the_free_text_never_reaches_kafka_but_its_change_is_named() -> None:
    """reason and notes are health data no consumer needs: null in every event, even
    though the appointments of these lifecycles have both; the keys stay (version 1
    requires them), and an edit still says what it changed."""
    assert any(c.state.reason for c in CHANGES)
    assert any(c.state.notes for c in CHANGES)
    for change in CHANGES:
        data = envelope_of(change)["data"]
        assert (data["reason"], data["notes"]) == (None, None)
        assert "Persistent cough" not in json.dumps(envelope_of(change))
    edited = next(c for c in CHANGES if c.event.type is EventType.EDITED)
    assert "notes" in envelope_of(edited)["data"]["changed"]
    described = schema()["$defs"]["appointment"]["properties"]
    assert described["reason"]["description"].startswith("Withheld: always null")
    assert described["notes"]["description"].startswith("Withheld: always null")


def test_the_schema_types_are_exactly_the_event_types() -> None:
    contract = schema()
    assert set(contract["properties"]["type"]["enum"]) == {t.value for t in EventType}
    assert contract["properties"]["schema_version"] == {
        "description": contract["properties"]["schema_version"]["description"],
        "const": SCHEMA_VERSION,
    }
    statuses = contract["$defs"]["appointment"]["properties"]["status"]["enum"]
    assert set(statuses) == {s.value for s in AppointmentStatus}


def test_asyncapi_names_every_type_and_points_at_the_schema() -> None:
    spec = yaml.safe_load((MESSAGING / "asyncapi.yaml").read_text())
    assert spec["asyncapi"].startswith("3.")
    channel = spec["channels"]["appointmentEvents"]
    assert channel["address"] == "appointment.events"
    # The appointment family; the waitlist's is checked in test_waitlist_contract.py.
    messages = {
        key: message
        for key, message in spec["components"]["messages"].items()
        if message["name"].startswith("appointment.")
    }
    assert {m["name"] for m in messages.values()} == {t.value for t in EventType}
    for message in messages.values():
        payload = message["payload"]
        assert payload["schemaFormat"].startswith("application/schema+json")
        refs = [part["$ref"] for part in payload["schema"]["allOf"] if "$ref" in part]
        assert refs == [f"./schemas/{SCHEMA_FILE}"]
        assert (MESSAGING / refs[0]).is_file()
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
    # every message is on the channel and in the publishing operation
    on_channel = {ref["$ref"].rsplit("/", 1)[1] for ref in channel["messages"].values()}
    assert on_channel == set(messages)
    operation = spec["operations"]["publishAppointmentEvent"]
    assert operation["action"] == "send"
    assert len(operation["messages"]) == len(messages)


def test_the_asyncapi_examples_meet_the_contract() -> None:
    spec = yaml.safe_load((MESSAGING / "asyncapi.yaml").read_text())
    examples = [
        example["payload"]
        for message in spec["components"]["messages"].values()
        for example in message.get("examples", [])
    ]
    assert examples
    for example in examples:
        validate_envelope(example)


def broken(path: str, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    envelope = copy.deepcopy(envelope_of(CHANGES[0]))
    *parents, last = path.split(".")
    target = envelope
    for part in parents:
        target = target[part]
    if delete:
        del target[last]
    else:
        target[last] = value
    return envelope


@pytest.mark.parametrize(
    ("envelope", "complaint"),
    [
        (broken("event_id", delete=True), "'event_id' is a required property"),
        (broken("data.status", delete=True), "'status' is a required property"),
        (broken("data.version", "2"), "data/version: '2' is not of type 'integer'"),
        (broken("schema_version", 2), "schema_version: 1 was expected"),
        (broken("occurred_at", "2030-01-01T08:00:00"), "occurred_at: '2030-01-01T08:00:00'"),
        (broken("data.start", "2030-01-08T09:00:00.000"), "data/start:"),
        (broken("data.start", "2030-13-08T09:00:00Z"), "data/start:"),
        (broken("type", "appointment.teleported"), "type: 'appointment.teleported' is not one"),
        (broken("event_id", "not-a-uuid"), "event_id: 'not-a-uuid' is not a 'uuid'"),
        (broken("data.status", "CONFIRMED"), "data/status: 'PENDING' was expected"),
        (broken("data.duration_minutes", 0), "data/duration_minutes: 0 is less than"),
    ],
    ids=[
        "missing-field",
        "missing-data-field",
        "wrong-type",
        "other-version",
        "time-without-offset",
        "start-without-offset",
        "impossible-date",
        "unknown-type",
        "event-id-not-uuid",
        "status-contradicts-type",
        "zero-duration",
    ],
)
def test_a_broken_envelope_is_refused_with_a_clear_reason(
    envelope: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ContractViolation) as refused:
        validate_envelope(envelope)
    assert complaint in str(refused.value)


def test_an_invoiced_event_must_carry_its_invoice() -> None:
    invoiced = next(c for c in CHANGES if c.event.type is EventType.INVOICED)
    envelope = envelope_of(invoiced)
    assert envelope["data"]["status"] == "SCHEDULED"
    assert envelope["data"]["changed"] == ["invoice_id", "updated_at"]
    envelope["data"]["invoice_id"] = None
    with pytest.raises(ContractViolation) as refused:
        validate_envelope(envelope)
    assert "data/invoice_id: None is not of type 'string'" in str(refused.value)


def test_unknown_fields_are_allowed_so_producers_can_add_fields_within_a_version() -> None:
    envelope = broken("trace_id", "abc")
    envelope["data"]["room"] = "2.14"
    validate_envelope(envelope)


def reminder() -> dict[str, Any]:
    change = next(c for c in CHANGES if c.event.type is EventType.REMINDER_DUE)
    return copy.deepcopy(envelope_of(change))  # details' links are the event's own dict


def test_a_reminder_tells_the_start_in_the_clinics_zone_and_links_to_its_actions() -> None:
    envelope = reminder()
    assert envelope["data"]["changed"] == ["reminders_sent", "updated_at"]
    assert envelope["data"]["reminders_sent"] == [1440]
    details = envelope["details"]
    assert details["offset_minutes"] == 1440
    assert details["start_local"] == "2030-01-08T09:00:00+01:00"  # 08:00 UTC, in Berlin
    assert details["timezone"] == "Europe/Berlin"
    assert set(details["links"]) == {"confirm", "cancel"}


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("details", None, "'details' is a required property"),
        ("details.links", None, "'links' is a required property"),
        ("details.links.cancel", None, "'cancel' is a required property"),
        ("details.links.confirm", "/a/relative", "details/links/confirm: '/a/relative' does not"),
        ("details.offset_minutes", "1440", "details/offset_minutes: '1440' is not of type"),
        ("details.start_local", "2030-01-08T09:00:00", "details/start_local:"),
        ("data.status", "CHECKED_IN", "data/status: 'CHECKED_IN' is not one of"),
        ("data.reminders_sent", ["1440"], "data/reminders_sent/0: '1440' is not of type"),
    ],
    ids=[
        "no-details",
        "no-links",
        "no-cancel-link",
        "relative-link",
        "offset-not-integer",
        "local-start-without-offset",
        "status-not-remindable",
        "offset-sent-not-integer",
    ],
)
def test_a_reminder_without_what_the_message_needs_is_refused(
    path: str, value: Any, complaint: str
) -> None:
    envelope = reminder()
    *parents, last = path.split(".")
    target = envelope
    for part in parents:
        target = target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    with pytest.raises(ContractViolation) as refused:
        validate_envelope(envelope)
    assert complaint in str(refused.value)


def test_a_reversed_no_show_is_checked_in_or_completed_and_keeps_its_record() -> None:
    reversal = next(c for c in CHANGES if c.event.type is EventType.NO_SHOW_REVERSED)
    envelope = envelope_of(reversal)
    assert envelope["data"]["status"] == "CHECKED_IN"
    assert envelope["data"]["no_show_at"] is not None
    assert envelope["data"]["no_show_invoice_id"] == "inv-no-show"
    envelope["data"]["status"] = "NO_SHOW"
    with pytest.raises(ContractViolation) as refused:
        validate_envelope(envelope)
    assert "data/status: 'NO_SHOW' is not one of" in str(refused.value)


def test_an_event_from_before_the_journey_still_meets_the_contract() -> None:
    """Outbox rows written before the journey's fields existed lack them: still valid."""
    envelope = envelope_of(CHANGES[1])
    for name in ("reminders_sent", "no_show_fee_cents", "no_show_at", "no_show_invoice_id"):
        del envelope["data"][name]
    validate_envelope(envelope)


def test_a_voided_no_show_fee_names_its_invoice_and_amount() -> None:
    voided = next(c for c in CHANGES if c.event.type is EventType.NO_SHOW_FEE_VOIDED)
    envelope = copy.deepcopy(envelope_of(voided))
    assert envelope["data"]["status"] == "CHECKED_IN"
    assert envelope["data"]["changed"] == ["no_show_invoice_id", "updated_at"]
    assert envelope["data"]["no_show_invoice_id"] is None
    assert envelope["details"] == {"invoice_id": "inv-no-show", "fee_cents": 2500}
    del envelope["details"]["fee_cents"]
    with pytest.raises(ContractViolation) as refused:
        validate_envelope(envelope)
    assert "'fee_cents' is a required property" in str(refused.value)
