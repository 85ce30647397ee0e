"""What happens after booking, counted: on the API, confirmations by channel, check-ins and
the no-shows staff record, each once per committed change (a retry answered again counts
nothing); on the worker, reminders by offset and the no-shows the journey records. The
no-show rate of the dashboard is ``no_shows / (no_shows + check_ins)`` over both."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from activities.journey import JourneyMetrics
from application.access import Channel, Requester
from application.commands import ChangeStatus, StatusAction
from telemetry.metrics import ApiMetrics, WorkerMetrics
from tests.fakes import World
from tests.unit.application.support import EARLIER, LATER, NOW, SETTINGS, STAFF, key

CONFIRMATIONS = "appointments_confirmations_total"
CHECK_INS = "appointments_check_ins_total"
NO_SHOWS = "appointments_no_shows_total"
REMINDERS = "appointments_reminders_sent_total"


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_the_api_exports_every_channel_and_staffs_no_shows_at_zero_from_the_start() -> None:
    registry = ApiMetrics().registry

    for channel in ("rest", "graphql", "link"):
        assert value(registry, CONFIRMATIONS, channel=channel) == 0.0
    assert value(registry, NO_SHOWS, recorded_by="staff") == 0.0
    assert value(registry, CHECK_INS) == 0.0


async def test_the_api_counts_confirmations_by_channel_check_ins_and_staffs_no_shows() -> None:
    metrics = ApiMetrics()
    world = World(settings=SETTINGS, now=NOW, counts=metrics.lifecycle)
    changes = world.services.changes
    by_rest = await world.repository.plant(start=LATER)
    by_graphql = await world.repository.plant(start=LATER + timedelta(hours=1))
    by_link = await world.repository.plant(start=LATER + timedelta(hours=2))
    missed = await world.repository.plant(start=EARLIER)
    graphql = Requester(STAFF.principal, None, Channel.GRAPHQL)
    link = Requester(STAFF.principal, None, Channel.LINK)
    confirm_once = ChangeStatus(appointment_id=by_rest.id, action="confirm", idempotency_key=key())

    def do(action: StatusAction, appointment_id: str) -> ChangeStatus:
        return ChangeStatus(appointment_id=appointment_id, action=action)

    await changes.change_status(confirm_once, STAFF)
    await changes.change_status(confirm_once, STAFF)  # a retry: answered again, not counted
    await changes.change_status(do("confirm", by_graphql.id), graphql)
    await changes.change_status(do("confirm", by_link.id), link)
    await changes.change_status(do("check-in", by_rest.id), STAFF)
    await changes.change_status(do("no-show", missed.id), STAFF)

    registry = metrics.registry
    assert [value(registry, CONFIRMATIONS, channel=c) for c in ("rest", "graphql", "link")] == [
        1.0,
        1.0,
        1.0,
    ]
    assert value(registry, CHECK_INS) == 1.0
    assert value(registry, NO_SHOWS, recorded_by="staff") == 1.0


def test_the_worker_counts_reminders_by_offset_and_the_journeys_no_shows() -> None:
    metrics = WorkerMetrics(refusals=[])
    journey: JourneyMetrics = metrics.journey
    assert value(metrics.registry, NO_SHOWS, recorded_by="journey") == 0.0

    journey.reminder_sent(1440)
    journey.reminder_sent(120)
    journey.reminder_sent(120)
    journey.no_show_recorded()

    assert value(metrics.registry, REMINDERS, offset_minutes="1440") == 1.0
    assert value(metrics.registry, REMINDERS, offset_minutes="120") == 2.0
    assert value(metrics.registry, NO_SHOWS, recorded_by="journey") == 1.0
    body, _ = metrics.render()
    assert b'recorded_by="staff"' not in body  # the API's own label, never the worker's
