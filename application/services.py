"""The use cases, gathered for the doors: REST routes, GraphQL resolvers (and the FHIR
door) each parse, call one of these, and shape the answer. Built from the ports once per
process (``adapters.wiring``), or from fakes in tests."""

from __future__ import annotations

from dataclasses import dataclass

from application.booking import Booking
from application.changes import Changes
from application.holds import SlotHolds
from application.journeys import Journeys
from application.ports import (
    AppointmentRepository,
    DoctorCalendars,
    DoctorDesk,
    Doctors,
    JourneyNews,
    LifecycleCounts,
    OfferRounds,
    Readiness,
    SagaGateway,
    ScheduleView,
    WaitlistRepository,
)
from application.quotas import Quotas
from application.reads import Reads
from application.sagas import SagaChanges
from application.schedule import Schedule
from application.waitlist import Waitlist
from config import Settings
from domain.clock import Clock, now_utc


@dataclass(frozen=True)
class Services:
    booking: Booking  # book; read one (also while its saga runs)
    sagas: SagaChanges  # cancel, reschedule
    changes: Changes  # confirm, check in, complete, no-show, edit, entered-in-error
    reads: Reads  # list, history
    schedule: Schedule  # the read view: schedules, one appointment, free slots
    readiness: Readiness
    journeys: Journeys  # the journey an appointment's reads show
    waitlist: Waitlist  # join, list, read, leave; accept or decline an offer
    holds: SlotHolds  # slot holds ahead of a booking (FHIR $hold), the held slots

    @classmethod
    def of(
        cls,
        *,
        repository: AppointmentRepository,
        sagas: SagaGateway,
        view: ScheduleView,
        calendars: DoctorCalendars,
        doctors: Doctors,
        readiness: Readiness,
        settings: Settings,
        waitlist: WaitlistRepository,
        rounds: OfferRounds,
        desk: DoctorDesk,
        clock: Clock = now_utc,
        quotas: Quotas | None = None,
        news: JourneyNews | None = None,
        counts: LifecycleCounts | None = None,
    ) -> Services:
        # One per process: every door's use cases count against the same quotas.
        quotas = quotas or Quotas.of(settings)
        return cls(
            booking=Booking(repository, sagas, settings, clock, quotas, holds=waitlist),
            sagas=SagaChanges(repository, sagas, quotas, clock, holds=waitlist),
            changes=Changes(repository, clock, news, counts),
            reads=Reads(repository),
            schedule=Schedule(view, calendars, settings, clock, doctors=doctors),
            readiness=readiness,
            journeys=Journeys(repository, settings.journey_rules, clock),
            waitlist=Waitlist(waitlist, rounds, repository, calendars, settings, clock),
            holds=SlotHolds(desk, calendars, view, settings, clock),
        )
