"""One batch: per-appointment order, poison rows, and how Kafka's errors are told apart,
with a fake producer (the real broker is in tests/integration/messaging)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    UnknownTopicOrPartitionError,
)

from config import load_settings
from messaging import kafka
from messaging.envelope import envelope
from messaging.kafka import acks, encode_value, is_transient
from messaging.outbox import OutboxRow, earlier_rows, key_chains
from messaging.publish import publish_batch
from tests.unit.messaging.lifecycles import edits

T = datetime(2030, 1, 1, tzinfo=UTC)


def rows_of(appointment_id: str, count: int, *, skew: bool = False) -> list[OutboxRow]:
    """``count`` real events of one appointment as outbox rows; ``skew`` stamps them
    newest-first, as clocks that disagree could."""
    rows = []
    for change in edits(count, appointment_id):
        seq = change.event.seq
        created = T - timedelta(seconds=seq) if skew else T + timedelta(seconds=seq)
        rows.append(
            OutboxRow(
                id=change.event.event_id,
                topic="appointment.events",
                key=change.event.appointment_id,
                seq=seq,
                created_at=created,
                envelope=envelope(change.event, change.state),
                attempts=0,
            )
        )
    return rows


class FakeProducer:
    """Records sends; fails the sends of chosen rows (by appointment id and version)."""

    def __init__(self, failures: dict[tuple[str, int], Exception] | None = None) -> None:
        self.sent: list[tuple[str, int]] = []
        self._failures = failures or {}

    async def send_and_wait(self, topic: str, value: Any = None, key: Any = None) -> None:
        await asyncio.sleep(0)  # let other chains interleave, as real acks would
        which = (key, value["data"]["version"])
        if which in self._failures:
            raise self._failures[which]
        self.sent.append(which)


A, B = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


async def test_each_appointment_goes_in_seq_order_even_when_its_clock_lied() -> None:
    rows = rows_of(A, 4, skew=True) + rows_of(B, 3)
    rows.sort(key=lambda r: r.created_at)  # the queue's order: A's newest first
    producer = FakeProducer()
    outcome = await publish_batch(producer, rows, send_timeout=1)
    assert [v for k, v in producer.sent if k == A] == [1, 2, 3, 4]
    assert [v for k, v in producer.sent if k == B] == [1, 2, 3]
    assert outcome.clean
    assert len(outcome.published) == 7


async def test_a_failed_row_holds_back_the_later_rows_of_its_key_only() -> None:
    producer = FakeProducer({(A, 2): MessageSizeTooLargeError()})
    outcome = await publish_batch(producer, rows_of(A, 4) + rows_of(B, 3), send_timeout=1)
    assert [v for k, v in producer.sent if k == A] == [1]
    assert [v for k, v in producer.sent if k == B] == [1, 2, 3]
    assert list(outcome.failed.values()) == [
        "MessageSizeTooLargeError: [Error 10] MessageSizeTooLargeError"
    ]
    assert (outcome.held_back, outcome.unavailable) == (2, None)


async def test_kafka_down_is_not_an_attempt_of_the_row() -> None:
    producer = FakeProducer({(A, 1): KafkaConnectionError("no broker")})
    outcome = await publish_batch(producer, rows_of(A, 2) + rows_of(B, 1), send_timeout=1)
    assert outcome.unavailable == "KafkaConnectionError: no broker"
    assert outcome.failed == {}
    assert producer.sent == [(B, 1)]


async def test_a_row_breaking_the_contract_is_refused_and_its_key_goes_on() -> None:
    rows = rows_of(A, 3)
    rows[1] = dataclasses.replace(rows[1], envelope={**rows[1].envelope, "type": "x"})
    producer = FakeProducer()
    outcome = await publish_batch(producer, rows, send_timeout=1)
    assert producer.sent == [(A, 1), (A, 3)]
    assert list(outcome.refused) == [rows[1].id]
    assert "contract violation: type: 'x' is not one of" in outcome.refused[rows[1].id]


async def test_a_row_keyed_by_another_appointment_is_refused() -> None:
    row = rows_of(A, 1)[0]
    wrong = dataclasses.replace(row, key=B)
    outcome = await publish_batch(FakeProducer(), [wrong], send_timeout=1)
    assert "key is not the envelope's appointment_id" in outcome.refused[row.id]


async def test_a_send_that_never_returns_counts_as_kafka_unavailable() -> None:
    class Hanging(FakeProducer):
        async def send_and_wait(self, topic: str, value: Any = None, key: Any = None) -> None:
            await asyncio.Event().wait()

    outcome = await publish_batch(Hanging(), rows_of(A, 2), send_timeout=0.05)
    assert outcome.unavailable is not None
    assert outcome.held_back == 1


def test_earlier_rows_pulls_in_a_predecessor_the_batch_limit_cut_off() -> None:
    a = rows_of(A, 3, skew=True)  # seq 3 looks oldest
    batch, outside = [a[2], *rows_of(B, 1)], [a[0], a[1]]
    assert earlier_rows(batch, outside) == [a[0], a[1]]
    assert [r.seq for r in key_chains(batch + outside)[0]] == [1, 2, 3]
    # a later row outside the batch stays outside
    assert earlier_rows([a[0]], [a[1], a[2]]) == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (KafkaConnectionError(), True),
        (KafkaTimeoutError(), True),
        (UnknownTopicOrPartitionError(), True),  # a topic gone after a broker restart
        (TimeoutError(), True),
        (MessageSizeTooLargeError(), False),
        (TypeError("not JSON"), False),
    ],
)
def test_transient_errors_are_told_from_errors_of_the_event(
    error: Exception, transient: bool
) -> None:
    assert is_transient(error) is transient


def test_acks_setting_maps_to_the_producer_values() -> None:
    assert (acks("all"), acks("1"), acks("0")) == ("all", 1, 0)
    with pytest.raises(ValueError, match="kafka_acks"):
        acks("2")


def test_the_value_is_compact_json() -> None:
    assert encode_value({"a": [1, 2], "b": "ü"}) == '{"a":[1,2],"b":"ü"}'.encode()
    assert json.loads(encode_value({"x": None})) == {"x": None}


def test_the_producer_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    options: dict[str, Any] = {}
    monkeypatch.setattr(kafka, "AIOKafkaProducer", lambda **kwargs: options.update(kwargs))
    settings = load_settings(
        kafka_bootstrap_servers="127.0.0.1:1",
        kafka_acks="1",
        kafka_enable_idempotence=False,
        kafka_linger_ms=7,
        kafka_client_id="relay-test",
        kafka_request_timeout_ms=1234,
    )
    kafka.make_producer(settings, max_request_size=2048)
    assert {k: v for k, v in options.items() if not k.endswith("_serializer")} == {
        "bootstrap_servers": "127.0.0.1:1",
        "client_id": "relay-test",
        "acks": 1,
        "enable_idempotence": False,
        "linger_ms": 7,
        "request_timeout_ms": 1234,
        "max_request_size": 2048,
    }
    assert options["key_serializer"]("appt-1") == b"appt-1"


async def test_the_production_defaults_make_an_idempotent_acks_all_producer() -> None:
    producer = kafka.make_producer(load_settings())  # acks=all, idempotence on
    try:
        assert producer._txn_manager is not None  # aiokafka's idempotence machinery
    finally:
        await producer.stop()
