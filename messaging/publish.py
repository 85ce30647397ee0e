"""Publishing one batch of outbox rows, and sorting out what became of each row.

Per-appointment order: the rows of one key form a chain, sent strictly one after the
other, each only after Kafka acknowledged the one before. If a row fails, the rest of its
chain is held back (not sent) and goes again, behind it, in the next batch. Different
appointments are independent, so their chains run side by side and the producer batches
their records together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from messaging.contract import (
    WAITLIST_SCHEMA_FILE,
    ContractViolation,
    schema_file,
    validate_envelope,
)
from messaging.kafka import error_text, is_transient
from messaging.outbox import OutboxRow, key_chains


class Producer(Protocol):
    """What the relay needs of aiokafka's AIOKafkaProducer (tests pass fakes)."""

    async def send_and_wait(self, topic: str, value: Any = None, key: Any = None) -> Any: ...


@dataclass
class BatchOutcome:
    """What became of each row of a batch; the relay writes it back to the outbox."""

    published: list[str] = field(default_factory=list)  # acknowledged by Kafka
    refused: dict[str, str] = field(default_factory=dict)  # never publishable: park now
    failed: dict[str, str] = field(default_factory=dict)  # a failed attempt each
    unavailable: str | None = None  # Kafka unreachable: nothing counted, back off
    held_back: int = 0  # not sent: an earlier row of the same key did not go through

    @property
    def clean(self) -> bool:
        return not (self.refused or self.failed or self.unavailable or self.held_back)


def defect(row: OutboxRow) -> str | None:
    """Why the row can never be published as it is, or None if it can."""
    if not row.topic:
        return "outbox row has no topic"
    if not row.key:
        return "outbox row has no key"
    if not isinstance(row.envelope, dict):
        return "outbox row's envelope is not a JSON object"
    try:
        validate_envelope(row.envelope)
    except ContractViolation as violation:
        return f"contract violation: {violation}"
    subject = key_field(row.envelope)
    if row.envelope[subject] != row.key:
        # The key decides the partition, hence the order consumers see; a row keyed by
        # anything but its appointment (or waitlist entry) would land out of order.
        return f"contract violation: the key is not the envelope's {subject}"
    return None


def key_field(envelope: dict[str, Any]) -> str:
    """The envelope field its record's key must equal: ``entry_id`` for a waitlist event,
    ``appointment_id`` for an appointment event (each required by its contract)."""
    waitlist = schema_file(envelope.get("type")) == WAITLIST_SCHEMA_FILE
    return "entry_id" if waitlist else "appointment_id"


async def publish_batch(
    producer: Producer, rows: Sequence[OutboxRow], *, send_timeout: float
) -> BatchOutcome:
    """Send every sound row of ``rows`` and wait for the acks, keeping per-key order.

    ``send_timeout`` bounds one send: aiokafka already fails a send after its request
    timeout, this only guards against a send that never returns (then counted as Kafka
    being unavailable; the record may still arrive, which is a duplicate, never a loss)."""
    outcome = BatchOutcome()

    async def send_chain(chain: list[OutboxRow]) -> None:
        for position, row in enumerate(chain):
            problem = defect(row)
            if problem is not None:
                # Parked rows leave a gap in the key's stream, visible to consumers as a
                # jump in data.version; holding every later event back behind a row that
                # can never go would stop the appointment's stream for good.
                outcome.refused[row.id] = problem
                continue
            try:
                await asyncio.wait_for(
                    producer.send_and_wait(row.topic, value=row.envelope, key=row.key),
                    send_timeout,
                )
            except Exception as error:
                message = error_text(error)
                if is_transient(error):
                    outcome.unavailable = outcome.unavailable or message
                else:
                    outcome.failed[row.id] = message
                outcome.held_back += len(chain) - position - 1
                return
            outcome.published.append(row.id)

    await asyncio.gather(*(send_chain(chain) for chain in key_chains(rows)))
    return outcome
