"""The appointment's statuses and the only changes allowed between them (ARCHITECTURE §4)."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import IllegalTransition


class AppointmentStatus(StrEnum):
    PENDING = "PENDING"  # the booking saga is running
    SCHEDULED = "SCHEDULED"
    CONFIRMED = "CONFIRMED"
    CHECKED_IN = "CHECKED_IN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"
    FAILED = "FAILED"  # the booking saga compensated; kept for the audit trail

    @property
    def is_terminal(self) -> bool:
        return not TRANSITIONS[self]

    @property
    def occupies_slot(self) -> bool:
        """Whether an appointment in this status blocks its doctor's time."""
        return self in ACTIVE_STATUSES


S = AppointmentStatus

TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.PENDING: frozenset({S.SCHEDULED, S.FAILED}),
    S.SCHEDULED: frozenset({S.CONFIRMED, S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CHECKED_IN: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
    S.FAILED: frozenset(),
}

# The statuses in which an appointment holds its slot. The database's unique partial index
# (persistence/documents.py) is built over exactly these, so double booking is impossible.
ACTIVE_STATUSES: frozenset[AppointmentStatus] = frozenset(
    {S.PENDING, S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN}
)


def can_transition(current: AppointmentStatus, target: AppointmentStatus) -> bool:
    return target in TRANSITIONS[current]


def ensure_transition(current: AppointmentStatus, target: AppointmentStatus) -> None:
    """Raise :class:`IllegalTransition` naming the current status unless the change is allowed."""
    if not can_transition(current, target):
        raise IllegalTransition(current.value, target.value)
