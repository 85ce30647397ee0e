"""What happens to appointments after booking, counted: confirmations by the door they
came through, check-ins, and no-shows by who recorded them. The no-show rate is
``no_shows / (no_shows + check_ins)`` (deploy/observability).

``appointments_no_shows_total`` is exported by two processes with one label each: the API
counts the no-shows people record (``recorded_by="staff"``: staff, a doctor or an admin,
through REST or GraphQL), the worker those the journey records when nobody checked the
patient in (``recorded_by="journey"``, telemetry/journey.py); sum them over both jobs."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from domain.status import AppointmentStatus
from telemetry.naming import PREFIX

CHANNELS = ("rest", "graphql", "link")
NO_SHOWS_HELP = (
    "Appointments recorded NO_SHOW, by who recorded them: staff (a person, through the "
    "API) or the journey (automatically, after the grace time)"
)


def no_shows(registry: CollectorRegistry) -> Counter:
    return Counter(f"{PREFIX}_no_shows", NO_SHOWS_HELP, ["recorded_by"], registry=registry)


class LifecycleInstruments:
    """The API's counts of committed status changes (``application.ports.LifecycleCounts``):
    a change counts once, when it is committed, never when a retry with its
    Idempotency-Key is answered again."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.confirmations = Counter(
            f"{PREFIX}_confirmations",
            "Appointments confirmed, by the door: rest, graphql, or link (the patient's "
            "one-click link)",
            ["channel"],
            registry=registry,
        )
        self.check_ins = Counter(
            f"{PREFIX}_check_ins", "Patients checked in for their appointment", registry=registry
        )
        self.no_shows = no_shows(registry)
        # At 0 from the start, so rate() and increase() see the first one after a restart.
        for channel in CHANNELS:
            self.confirmations.labels(channel)
        self.no_shows.labels("staff")

    def committed(self, status: AppointmentStatus, channel: str) -> None:
        if status is AppointmentStatus.CONFIRMED:
            self.confirmed(channel)
        elif status is AppointmentStatus.CHECKED_IN:
            self.checked_in()
        elif status is AppointmentStatus.NO_SHOW:
            self.no_show_recorded()

    def confirmed(self, channel: str) -> None:
        self.confirmations.labels(channel).inc()

    def checked_in(self) -> None:
        self.check_ins.inc()

    def no_show_recorded(self) -> None:
        """A no-show recorded by a person through the API."""
        self.no_shows.labels("staff").inc()
