"""GET /api/v1/appointments on the real local stack: keyset pages of the store's index in
(start, id) order without gap or repeat, filters, and a patient who sees only their own.
Every filter, limit, cursor and scope is the use case's (tests/unit/application/
test_listing.py), the query against MongoDB tests/integration/persistence's, and the
parameters the door refuses tests/unit/api/test_rest_door.py's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.status import AppointmentStatus
from localstack.service import LocalService
from tests.e2e.support import BASE, plant

pytestmark = pytest.mark.e2e

S = AppointmentStatus
P1, P2 = "pat-chiara-rossi", "pat-david-kim"
D1, D2, D3 = "doc-amelia-hart", "doc-jonas-weber", "doc-sofia-brandt"
# A window of its own, long past, so that only this module's appointments are in it.
W0 = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = {"from": W0.isoformat(), "to": (W0 + timedelta(days=4)).isoformat()}
ROWS: list[tuple[int, str, str, AppointmentStatus]] = [
    # minutes after W0, patient, doctor, status; three share W0 (one doctor each: the
    # store keeps a doctor's active appointments from overlapping)
    (0, P1, D1, S.SCHEDULED),
    (0, P2, D2, S.CONFIRMED),
    (0, P1, D3, S.COMPLETED),
    (30, P2, D1, S.CANCELLED),
    (1440, P1, D1, S.CHECKED_IN),
    (2880, P2, D2, S.FAILED),
    (4320, P1, D2, S.CONFIRMED),
]


def everything(client: httpx.Client, params: dict[str, Any]) -> list[str]:
    """The ids of every page, following the cursor; each page but the last full."""
    ids: list[str] = []
    cursor = None
    while True:
        answer = client.get(BASE, params=params | ({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        items, cursor = answer.json()["items"], answer.json()["next_cursor"]
        ids += [item["id"] for item in items]
        if cursor is None:
            return ids
        assert len(items) == params["limit"], "only a full page says more follows"


def test_pages_follow_the_stores_order_and_a_patient_sees_only_their_own(
    api: httpx.Client, as_role: Callable[[str, str], httpx.Client], service: LocalService
) -> None:
    specs = [(status, p, d, W0 + timedelta(minutes=m)) for m, p, d, status in ROWS]
    ids = plant(service, specs)
    planted = sorted(
        ({"id": i, "start": spec[3], "patient": spec[1], "status": spec[0]}
         for i, spec in zip(ids, specs, strict=True)),
        key=lambda r: (r["start"], r["id"]),
    )  # fmt: skip

    assert everything(api, WINDOW | {"limit": 2}) == [r["id"] for r in planted]
    confirmed = everything(api, WINDOW | {"limit": 1, "status": ["CONFIRMED", "COMPLETED"]})
    assert confirmed == [r["id"] for r in planted if r["status"] in (S.CONFIRMED, S.COMPLETED)]
    patient = as_role("patient", P1)
    assert everything(patient, WINDOW | {"limit": 2}) == [
        r["id"] for r in planted if r["patient"] == P1
    ]
    assert everything(patient, WINDOW | {"limit": 2, "patient_id": P2}) == []
