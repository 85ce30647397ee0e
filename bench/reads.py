"""Schedule reads over a large read view.

``fill_view`` tops ``appointment_read_view`` up to the wanted size with synthetic rows of
the projector's own shape (``projections.fold.ViewRow``): past days, ~30-50 appointments a
doctor and working day on a 15-minute grid inside the doctor's working hours, spread over
the seeded doctors and patients. Past dates never take a free slot from the bookings. They
are written by the projector's own ``ViewStore.write``, so the doctor's days
(``projections.days``) hold them too.

``explain_schedule`` asks MongoDB for the plan of the schedule query exactly as
``projections.queries.ReadView.doctor_schedule`` sends it (to the doctor's days), and
``schedule_reads`` measures REST and GraphQL reads of random doctors and windows within the
filled days."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from bench.load import LoopResult, OperationError, closed_loop
from bench.stats import Summary
from domain.schedule import closing
from domain.status import AppointmentStatus
from peers.contracts import Doctor, Patient
from projections.fold import ViewRow
from projections.queries import DAYS_FIELDS, days_filter
from projections.read_view import DOCTOR_DAYS, READ_VIEW
from projections.view_store import ViewStore

Raw = dict[str, Any]
BATCH = 5_000
GRID = timedelta(minutes=15)
PER_DAY = (30, 50)  # appointments per doctor and working day
# Past appointments end in one of these (FAILED ones are in the view, but never shown).
PAST_STATUSES = [
    AppointmentStatus.COMPLETED,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.FAILED,
]
PAST_WEIGHTS = [0.85, 0.07, 0.05, 0.03]
REASONS = (None, None, "Check-up", "Follow-up", "Persistent cough", "Back pain", "Vaccination")
SCHEDULE_INDEX = "_id_"  # the index the schedule query's day documents are found by
GRAPHQL_SCHEDULE = """query ($doctor: ID!, $from: DateTime!, $to: DateTime!) {
  doctorSchedule(doctorId: $doctor, from: $from, to: $to) { id start end status patientName }
}"""
_ROW_SAMPLES = 200  # responses per kind whose rows are counted (after the timing)


class ViewFill(BaseModel):
    rows_before: int
    inserted: int
    rows_after: int
    seconds: float
    first_day: date  # the filled past days, in the clinic's time zone
    last_day: date


class ExplainPlan(BaseModel):
    label: str
    hint: str | None
    winning_plan: str  # the stages from the top, e.g. "SORT > FETCH > IXSCAN(doctor_start)"
    uses_index: bool
    returned: int | None
    keys_examined: int | None
    docs_examined: int | None
    server_ms: float | None
    raw_winning_plan: dict[str, Any]


class ReadFigures(BaseModel):
    name: str
    window_days: int
    summary: Summary
    rows_mean: float | None
    rows_min: int | None
    rows_max: int | None


# --- the synthetic rows ------------------------------------------------------------------


def working_starts(doctor: Doctor, day: date) -> list[datetime]:
    """The doctor's 15-minute grid starts on ``day`` (their own date), in UTC."""
    zone = ZoneInfo(doctor.timezone)
    starts: list[datetime] = []
    for hours in doctor.working_hours:
        if hours.weekday != day.weekday():
            continue
        at = datetime.combine(day, hours.start, tzinfo=zone)
        end = closing(day, hours.end, zone)  # 00:00: the day's end
        while at + GRID <= end:
            starts.append(at.astimezone(UTC))
            at += GRID
    return sorted(starts)


def _status(rng: random.Random) -> AppointmentStatus:
    return rng.choices(PAST_STATUSES, PAST_WEIGHTS)[0]


def synthetic_rows(
    doctors: Sequence[Doctor],
    patients: Sequence[Patient],
    count: int,
    last_day: date,
    clinic_zone: ZoneInfo,
    rng: random.Random,
) -> Iterator[ViewRow]:
    """``count`` past appointments, day by day backwards from ``last_day``."""
    made, day = 0, last_day
    while made < count:
        for doctor in doctors:
            grid = working_starts(doctor, day)
            wanted = min(rng.randint(*PER_DAY), len(grid), count - made)
            for start in sorted(rng.sample(grid, wanted)):
                patient = rng.choice(patients)
                end = start + GRID
                yield ViewRow(
                    id=str(uuid.uuid4()),
                    version=rng.randint(2, 4),
                    patient_id=patient.id,
                    doctor_id=doctor.id,
                    day=start.astimezone(clinic_zone).date().isoformat(),
                    start=start,
                    end=end,
                    duration_minutes=int(GRID.total_seconds() // 60),
                    timezone=clinic_zone.key,
                    status=_status(rng),
                    reason=rng.choice(REASONS),
                    updated_at=end + timedelta(minutes=rng.randint(1, 90)),
                    patient_name=patient.name,
                    doctor_name=doctor.name,
                    doctor_specialty=doctor.specialty,
                )
            made += wanted
        day -= timedelta(days=1)


async def _past_day(view: AsyncCollection[Raw], before: datetime, direction: int) -> date | None:
    query = {"start": {"$lt": before}}
    row = await view.find_one(query, {"day": 1}, sort=[("start", direction)])
    return None if row is None else date.fromisoformat(row["day"])


async def fill_view(
    database: AsyncDatabase[Raw],
    doctors: Sequence[Doctor],
    patients: Sequence[Patient],
    size: int,
    clinic_zone: ZoneInfo,
    *,
    progress: Callable[[str], None],
    seed: int = 8,
) -> ViewFill:
    """Write synthetic past rows (and their doctor's days) until the view holds ``size``
    rows; the days they and any earlier past rows cover."""
    view = database[READ_VIEW]
    store = ViewStore(database)
    began = time.perf_counter()
    today = datetime.now(clinic_zone).date()
    cutoff = datetime.combine(today - timedelta(days=1), datetime.min.time(), clinic_zone)
    before = await view.count_documents({})
    earliest = await _past_day(view, cutoff, 1) if before else None
    latest = await _past_day(view, cutoff, -1) if before else None
    last_day = earliest - timedelta(days=1) if earliest else today - timedelta(days=3)
    missing = max(size - before, 0)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by its seed
    batch: list[ViewRow] = []
    inserted, first_day = 0, last_day
    for row in synthetic_rows(doctors, patients, missing, last_day, clinic_zone, rng):
        batch.append(row)
        first_day = min(first_day, row.start.astimezone(clinic_zone).date())
        if len(batch) == BATCH:
            await store.write(batch)
            inserted += len(batch)
            batch = []
            progress(f"  read view: {inserted:,} of {missing:,} rows inserted")
    if batch:
        await store.write(batch)
        inserted += len(batch)
    return ViewFill(
        rows_before=before,
        inserted=inserted,
        rows_after=before + inserted,
        seconds=round(time.perf_counter() - began, 2),
        first_day=first_day if inserted else (earliest or last_day),
        last_day=latest or last_day,
    )


# --- the query plan ----------------------------------------------------------------------


def plan_stages(plan: dict[str, Any]) -> list[str]:
    """The stages of a winning plan from the top, an index scan with its index name."""
    stages: list[str] = []
    current: dict[str, Any] | None = plan
    while current:
        stage = str(current.get("stage", "?"))
        if "indexName" in current:
            stage += f"({current['indexName']})"
        stages.append(stage)
        inner = current.get("inputStage")
        if inner is None and current.get("inputStages"):
            inner = current["inputStages"][0]
        current = inner if isinstance(inner, dict) else None
    return stages


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


async def explain_schedule(
    database: AsyncDatabase[Raw], doctor_id: str, lower: datetime, upper: datetime
) -> list[ExplainPlan]:
    """The plan of the schedule query as the service sends it (the doctor's days of the
    window by ``_id``, no hint: the planner's choice), and with the index named, to show
    the planner chose it."""
    doctor_days = database[DOCTOR_DAYS]
    plans: list[ExplainPlan] = []
    for label, hint in (("as sent", None), ("index named (hint)", SCHEDULE_INDEX)):
        cursor = doctor_days.find(days_filter(doctor_id, lower, upper), DAYS_FIELDS)
        if hint is not None:
            cursor = cursor.hint(hint)
        answer = await cursor.explain()
        winning: dict[str, Any] = answer.get("queryPlanner", {}).get("winningPlan", {})
        stats: dict[str, Any] = answer.get("executionStats", {})
        stages = plan_stages(winning)
        plans.append(
            ExplainPlan(
                label=label,
                hint=hint,
                winning_plan=" > ".join(stages),
                uses_index=any(s.startswith("IXSCAN") for s in stages),
                returned=_int(stats.get("nReturned")),
                keys_examined=_int(stats.get("totalKeysExamined")),
                docs_examined=_int(stats.get("totalDocsExamined")),
                server_ms=stats.get("executionTimeMillis"),
                raw_winning_plan=winning,
            )
        )
    return plans


# --- the reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    doctor_id: str
    lower: datetime
    upper: datetime

    def params(self) -> dict[str, str]:
        return {"from": self.lower.isoformat(), "to": self.upper.isoformat()}


def window_picker(
    doctors: Sequence[Doctor],
    first_day: date,
    last_day: date,
    days: int,
    clinic_zone: ZoneInfo,
    rng: random.Random,
) -> Callable[[], Awaitable[Window]]:
    """Random windows of ``days`` days (from a midnight of the clinic) within the filled
    days, for a random doctor; one-day windows only on days the doctor works."""
    span = (last_day - first_day).days - days + 1
    if span < 1:
        raise ValueError(f"the filled days ({first_day}..{last_day}) hold no {days}-day window")

    async def pick() -> Window:
        while True:
            doctor = rng.choice(doctors)
            day = first_day + timedelta(days=rng.randrange(span))
            if days > 1 or any(h.weekday == day.weekday() for h in doctor.working_hours):
                lower = datetime.combine(day, datetime.min.time(), clinic_zone)
                upper = lower + timedelta(days=days)  # wall-clock arithmetic: DST-proof
                return Window(doctor.id, lower.astimezone(UTC), upper.astimezone(UTC))

    return pick


ReadOperation = Callable[[Window], Awaitable[None]]


def rest_reader(
    client: httpx.AsyncClient, api_url: str, token: str, bodies: list[bytes]
) -> ReadOperation:
    """GET /api/v1/doctors/{id}/schedule; keeps the first bodies for counting rows."""
    headers = {"Authorization": f"Bearer {token}"}

    async def read(window: Window) -> None:
        url = f"{api_url}/api/v1/doctors/{window.doctor_id}/schedule"
        answer = await client.get(url, params=window.params(), headers=headers)
        if answer.status_code != 200:
            raise OperationError(f"HTTP {answer.status_code}: {answer.text}")
        if len(bodies) < _ROW_SAMPLES:
            bodies.append(answer.content)

    return read


def graphql_reader(
    client: httpx.AsyncClient, api_url: str, token: str, bodies: list[bytes]
) -> ReadOperation:
    """POST /graphql doctorSchedule; keeps the first bodies for counting rows."""
    headers = {"Authorization": f"Bearer {token}"}

    async def read(window: Window) -> None:
        variables = {"doctor": window.doctor_id, **window.params()}
        payload = {"query": GRAPHQL_SCHEDULE, "variables": variables}
        answer = await client.post(f"{api_url}/graphql", json=payload, headers=headers)
        if answer.status_code != 200 or b'"errors"' in answer.content:
            raise OperationError(f"HTTP {answer.status_code}: {answer.text}")
        if len(bodies) < _ROW_SAMPLES:
            bodies.append(answer.content)

    return read


def rest_rows(body: bytes) -> int:
    return len(httpx.Response(200, content=body).json()["appointments"])


def graphql_rows(body: bytes) -> int:
    return len(httpx.Response(200, content=body).json()["data"]["doctorSchedule"])


@dataclass(frozen=True)
class ReadKind:
    name: str
    window_days: int
    make: Callable[[httpx.AsyncClient, str, str, list[bytes]], ReadOperation]
    rows: Callable[[bytes], int]


READ_KINDS = (
    ReadKind("REST schedule, 1 week", 7, rest_reader, rest_rows),
    ReadKind("REST schedule, 1 day", 1, rest_reader, rest_rows),
    ReadKind("GraphQL doctorSchedule, 1 week", 7, graphql_reader, graphql_rows),
)


async def schedule_reads(
    client: httpx.AsyncClient,
    api_url: str,
    token: str,
    doctors: Sequence[Doctor],
    fill: ViewFill,
    clinic_zone: ZoneInfo,
    *,
    concurrency: int,
    seconds: float,
    progress: Callable[[str], None],
    seed: int = 20,
) -> list[ReadFigures]:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by its seed
    found: list[ReadFigures] = []
    for kind in READ_KINDS:
        progress(f"reads: {kind.name} at concurrency {concurrency} ({seconds:g} s)")
        pick = window_picker(
            doctors, fill.first_day, fill.last_day, kind.window_days, clinic_zone, rng
        )
        bodies: list[bytes] = []
        run: LoopResult = await closed_loop(
            pick,
            kind.make(client, api_url, token, bodies),
            concurrency=concurrency,
            seconds=seconds,
            warmup_seconds=0,
        )
        rows = [kind.rows(body) for body in bodies]
        s = run.summary
        progress(f"  {s.ok} reads, {s.errors} errors, p50 {s.p50_ms} ms, p99 {s.p99_ms} ms")
        found.append(
            ReadFigures(
                name=kind.name,
                window_days=kind.window_days,
                summary=s,
                rows_mean=round(sum(rows) / len(rows), 1) if rows else None,
                rows_min=min(rows) if rows else None,
                rows_max=max(rows) if rows else None,
            )
        )
    return found
