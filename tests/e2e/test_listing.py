"""GET /api/v1/appointments over HTTP: filters, (start, id) order, cursor pages without
gaps or duplicates, the limit, refused parameters, and no leak: a patient or a doctor
sees only their own appointments, whatever the filters name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from domain.status import AppointmentStatus
from localstack.service import LocalService
from tests.e2e.test_lifecycle import BASE, plant

pytestmark = pytest.mark.e2e

S = AppointmentStatus
P1, P2, P3 = "pat-chiara-rossi", "pat-david-kim", "pat-elif-yilmaz"
D1, D2, D3 = "doc-amelia-hart", "doc-jonas-weber", "doc-sofia-brandt"
# A window of its own, long past, so that only this module's appointments are in it.
W0 = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = {"from": W0.isoformat(), "to": (W0 + timedelta(days=4)).isoformat()}

ROWS: list[tuple[int, str, str, AppointmentStatus]] = [
    # minutes after W0, patient, doctor, status; three share W0, two share W0 + 1 h
    (0, P1, D1, S.SCHEDULED),
    (0, P2, D2, S.CONFIRMED),
    (0, P3, D3, S.COMPLETED),
    (30, P1, D2, S.CANCELLED),
    (60, P2, D1, S.NO_SHOW),
    (60, P3, D2, S.SCHEDULED),
    (1440, P1, D3, S.CHECKED_IN),
    (1470, P2, D3, S.FAILED),
    (2880, P3, D1, S.CONFIRMED),
    (2880, P1, D2, S.CANCELLED),
    (4320, P2, D2, S.COMPLETED),
    (4335, P3, D3, S.PENDING),
]


@pytest.fixture(scope="module")
def planted(service: LocalService) -> list[dict[str, Any]]:
    specs = [(status, p, d, W0 + timedelta(minutes=m)) for m, p, d, status in ROWS]
    ids = plant(service, specs)
    rows = [
        {"id": i, "start": start, "patient_id": p, "doctor_id": d, "status": status}
        for i, (status, p, d, start) in zip(ids, specs, strict=True)
    ]
    return sorted(rows, key=lambda r: (r["start"], r["id"]))


@pytest.fixture(scope="module")
def as_role(service: LocalService) -> Any:
    def client(role: str, subject: str) -> httpx.Client:
        token = service.token(role, subject)
        return httpx.Client(
            base_url=service.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )

    return client


def every_page(client: httpx.Client, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        answer = client.get(BASE, params=params | ({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()["items"])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "the cursor never ends"


def everything(client: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for page in every_page(client, params | {"limit": 100}) for item in page]


FILTERS: dict[str, tuple[dict[str, Any], Any]] = {
    "none": ({}, lambda r: True),
    "doctor": ({"doctor_id": D1}, lambda r: r["doctor_id"] == D1),
    "patient": ({"patient_id": P1}, lambda r: r["patient_id"] == P1),
    "one status": ({"status": "SCHEDULED"}, lambda r: r["status"] == S.SCHEDULED),
    "two statuses": (
        {"status": ["CONFIRMED", "COMPLETED"]},
        lambda r: r["status"] in (S.CONFIRMED, S.COMPLETED),
    ),
    "doctor and status": (
        {"doctor_id": D1, "status": ["CONFIRMED", "CANCELLED"]},
        lambda r: r["doctor_id"] == D1 and r["status"] in (S.CONFIRMED, S.CANCELLED),
    ),
    "patient and doctor": (
        {"patient_id": P2, "doctor_id": D3},
        lambda r: (r["patient_id"], r["doctor_id"]) == (P2, D3),
    ),
    "nobody": ({"doctor_id": "doc-nobody"}, lambda r: False),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_filters_select_exactly_the_matching_in_start_then_id_order(
    name: str, api: httpx.Client, planted: list[dict[str, Any]]
) -> None:
    params, matches = FILTERS[name]
    answer = api.get(BASE, params=WINDOW | params)
    assert answer.status_code == 200, answer.text
    assert [item["id"] for item in answer.json()["items"]] == [
        r["id"] for r in planted if matches(r)
    ]
    assert answer.json()["next_cursor"] is None


def test_the_time_range_is_half_open_and_any_offset_works(
    api: httpx.Client, planted: list[dict[str, Any]]
) -> None:
    plus_one = timezone(timedelta(hours=1))
    params = {
        "from": W0.astimezone(plus_one).isoformat(),  # 09:00+01:00
        "to": (W0 + timedelta(minutes=60)).isoformat(),
    }
    items = api.get(BASE, params=params).json()["items"]
    expected = [r["id"] for r in planted if W0 <= r["start"] < W0 + timedelta(minutes=60)]
    assert [item["id"] for item in items] == expected
    assert len(expected) == 4  # the three at W0 and the one at W0 + 30 min


def test_an_item_is_the_appointment_as_read_alone(
    api: httpx.Client, planted: list[dict[str, Any]]
) -> None:
    items = api.get(BASE, params=WINDOW).json()["items"]
    for item in items[:3]:
        assert item == api.get(f"{BASE}/{item['id']}").json()


@pytest.mark.parametrize("limit", [1, 2, 5, 11, 12, 13])
def test_cursor_pages_have_no_gap_or_duplicate(
    limit: int, api: httpx.Client, planted: list[dict[str, Any]]
) -> None:
    pages = every_page(api, WINDOW | {"limit": limit})
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit  # the last page is never empty
    assert [item["id"] for page in pages for item in page] == [r["id"] for r in planted]


def test_pages_over_the_whole_collection_are_the_collection(
    api: httpx.Client, mongo: Database[dict[str, Any]], planted: list[dict[str, Any]]
) -> None:
    small = [item for page in every_page(api, {"limit": 7}) for item in page]
    assert [i["id"] for i in small] == [i["id"] for i in everything(api, {})]
    assert len({i["id"] for i in small}) == len(small) == mongo["appointments"].count_documents({})
    keys = [(datetime.fromisoformat(i["start"]), i["id"]) for i in small]
    assert keys == sorted(keys)


def test_the_limit_defaults_to_20_and_is_at_most_100(
    api: httpx.Client,
    mongo: Database[dict[str, Any]],
    service: LocalService,
    planted: list[dict[str, Any]],
) -> None:
    total = mongo["appointments"].count_documents({})
    if total <= 20:  # this module alone; in the whole session there are more
        plant(service, [(S.COMPLETED, P1, D3, None)] * (21 - total))
        total = 21
    default = api.get(BASE).json()
    assert len(default["items"]) == 20
    assert default["next_cursor"]
    assert len(api.get(BASE, params={"limit": 100}).json()["items"]) == min(total, 100)
    for refused in (101, 0, -1, "ten"):
        answer = api.get(BASE, params={"limit": refused})
        assert answer.status_code == 422, refused
        assert answer.json()["type"].endswith("/validation-error")


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2021-03-01T08:00:00"},  # no offset
        {"to": "yesterday"},
        {"from": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"to": "9999-12-31T23:30:00-01:00"},  # after year 9999 in UTC
        {"from": WINDOW["to"], "to": WINDOW["from"]},
        {"from": WINDOW["from"], "to": WINDOW["from"]},
        {"status": "SCHEDULED,CONFIRMED"},  # a comma list: repeat the parameter instead
        {"status": "BOOKED"},
        {"doctor": D1},  # misspelt: refused, never ignored
        {"doctor_id": "doc with spaces"},
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64url of "[]"
        {"cursor": "eyJhIjogMX0"},  # base64url of '{"a": 1}'
        {"cursor": "x" * 600},
    ],
)
def test_refused_parameters_are_a_422_problem(params: dict[str, Any], api: httpx.Client) -> None:
    answer = api.get(BASE, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/validation-error")


@pytest.mark.parametrize(
    ("role", "subject", "field"), [("patient", P1, "patient_id"), ("doctor", D1, "doctor_id")]
)
def test_a_patient_or_doctor_lists_only_their_own(
    role: str,
    subject: str,
    field: str,
    as_role: Any,
    mongo: Database[dict[str, Any]],
    planted: list[dict[str, Any]],
) -> None:
    with as_role(role, subject) as client:
        mine = everything(client, {})
        assert mine, "the planted ones at least"
        assert all(item[field] == subject for item in mine)
        assert len(mine) == mongo["appointments"].count_documents({field: subject})
        in_window = [item["id"] for item in everything(client, WINDOW)]
        assert in_window == [r["id"] for r in planted if r[field] == subject]

        # Filters that name someone else select nothing of theirs.
        other = P2 if role == "patient" else D2
        assert everything(client, {field: other}) == []
        assert everything(client, WINDOW | {field: other, "status": list(S)}) == []
        # A filter on the other side narrows the caller's own.
        across = "doctor_id" if role == "patient" else "patient_id"
        for someone in (D1, D2, D3) if role == "patient" else (P1, P2, P3):
            narrowed = everything(client, WINDOW | {across: someone})
            assert all(item[field] == subject for item in narrowed)
            assert [i["id"] for i in narrowed] == [
                r["id"] for r in planted if r[field] == subject and r[across] == someone
            ]
