"""What the journey's activities count (activities/journey.py), on the worker's registry:
reminders sent by their offset, and the no-shows the journey records
(``recorded_by="journey"``; the API counts those people record, telemetry/lifecycle.py).

Worker code: the API never imports this module (it pulls in the activities)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from activities.journey import JourneyMetrics
from telemetry.lifecycle import no_shows
from telemetry.naming import PREFIX


class JourneyInstruments(JourneyMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.reminders_sent = Counter(
            f"{PREFIX}_reminders_sent",
            "Reminders sent (an appointment.reminder_due event committed), by the offset "
            "before the start, in minutes",
            ["offset_minutes"],
            registry=registry,
        )
        self.no_shows = no_shows(registry)
        self.no_shows.labels("journey")  # at 0 from the start

    def reminder_sent(self, offset_minutes: int) -> None:
        self.reminders_sent.labels(str(offset_minutes)).inc()

    def no_show_recorded(self) -> None:
        self.no_shows.labels("journey").inc()
