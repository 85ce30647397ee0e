"""Health data in Temporal: on the local stack every payload is encrypted (workflows/codec.py),
so a saga's history, read straight from Temporal as the Web UI's server reads it, holds
neither the reason nor the patient id in the clear; the API still answers with both, and
the API's codec (which the Web UI is wired to) opens the payloads for an admin only."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import httpx
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from localstack.service import LocalService
from tests.e2e.conftest import Slots
from tests.e2e.support import BASE, PATIENT, book, booking
from workflows.codec import ENCODING


def raw_history(service: LocalService, workflow_id: str) -> list[HistoryEvent]:
    """The run's events as Temporal stores them: a client without the codec."""

    async def fetch() -> list[HistoryEvent]:
        settings = service.settings
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
        return list((await client.get_workflow_handle(workflow_id).fetch_history()).events)

    return asyncio.run(fetch())


def without_search_attributes(event: HistoryEvent) -> HistoryEvent:
    """The event less its search attributes, which Temporal indexes in the clear: ids and
    statuses only, by design (workflows/search_attributes.py)."""
    copy = HistoryEvent()
    copy.CopyFrom(event)
    copy.workflow_execution_started_event_attributes.ClearField("search_attributes")
    copy.upsert_workflow_search_attributes_event_attributes.ClearField("search_attributes")
    return copy


def test_a_bookings_history_holds_no_health_data_in_the_clear(
    service: LocalService,
    api: httpx.Client,
    as_role: Any,
    slots: Slots,
) -> None:
    reason = f"Chest pain since Monday {uuid.uuid4().hex[:8]}"
    answer = book(api, booking(slots.next(), reason=reason))
    assert answer.status_code == 201, answer.text
    appointment = answer.json()
    workflow_id = appointment["booking_workflow_id"]
    assert workflow_id

    # The API still works with the text: it reads MongoDB, and its Temporal client decodes.
    shown = api.get(f"{BASE}/{appointment['id']}")
    assert shown.status_code == 200, shown.text
    assert (shown.json()["reason"], shown.json()["patient_id"]) == (reason, PATIENT)

    events = raw_history(service, workflow_id)
    started = events[0].workflow_execution_started_event_attributes
    assert [p.metadata["encoding"] for p in started.input.payloads] == [ENCODING]
    assert started.memo.fields, "the run's memo"
    assert all(p.metadata["encoding"] == ENCODING for p in started.memo.fields.values())
    for event in events:
        stored = event.SerializeToString()
        assert reason.encode() not in stored, event.event_type
        assert PATIENT.encode() not in without_search_attributes(event).SerializeToString(), (
            event.event_type
        )

    # The codec the Web UI calls opens the input, for an admin and nobody else.
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in started.input.payloads
        ]
    }
    headers = {"X-Namespace": service.settings.temporal_namespace}
    refused = as_role("staff", "frontdesk-codec").post("/codec/decode", json=body, headers=headers)
    assert refused.status_code == 403, refused.text
    opened = as_role("admin", "ops-1").post("/codec/decode", json=body, headers=headers)
    assert opened.status_code == 200, opened.text
    [payload] = opened.json()["payloads"]
    plain = base64.b64decode(payload["data"]).decode()
    assert reason in plain
    assert PATIENT in plain

    # The Web UI of the local stack is wired to that codec.
    settings = httpx.get(f"{service.infra.temporal_ui_url}/api/v1/settings", timeout=10).json()
    assert settings["Codec"]["Endpoint"] == f"{service.api_url}/codec"
