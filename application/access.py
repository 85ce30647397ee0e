"""Who calls a use case, and "load, authorize, 404" written once for every use case."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from application.permissions import Action, Owners, Principal, authorize
from application.ports import AppointmentRepository
from domain.errors import AppointmentNotFound
from domain.events import EventContext
from domain.model import Appointment


class Channel(StrEnum):
    """The door a request came through (the metrics count confirmations by it)."""

    REST = "rest"
    GRAPHQL = "graphql"
    LINK = "link"  # a patient's one-click action link (/a/{token})


@dataclass(frozen=True, slots=True)
class Requester:
    """The authenticated caller of a use case and the request that carries the call."""

    principal: Principal
    request_id: str | None = None
    channel: Channel = Channel.REST

    def context(self, reason: str | None = None) -> EventContext:
        """How the change it asks for is recorded: actor, reason and request id (a saga
        adds its run's ids)."""
        return EventContext(actor=self.principal.actor, reason=reason, request_id=self.request_id)


async def visible(
    repository: AppointmentRepository, who: Principal, action: Action, appointment_id: str
) -> Appointment:
    """The appointment, if ``who`` may do ``action`` on it. A role that never may is
    refused (403) before the look-up; someone else's appointment reads exactly as a missing
    one (404), so nobody can probe which ids exist."""
    authorize(who, action)
    appointment = await repository.get(appointment_id)
    if appointment is None:
        raise AppointmentNotFound(f"no appointment {appointment_id}")
    authorize(who, action, Owners(appointment.patient_id, appointment.doctor_id))
    return appointment


async def reloaded(repository: AppointmentRepository, appointment_id: str) -> Appointment:
    """The appointment a saga just finished with: it must be stored."""
    appointment = await repository.get(appointment_id)
    if appointment is None:
        raise RuntimeError(f"appointment {appointment_id} missing after its saga")
    return appointment
