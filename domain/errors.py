"""Errors are types. Each names a business refusal or a fault; one mapping turns them into
problem documents for HTTP (``api/problems.py``) and into non-retryable failures for
Temporal (``activities/errors.py``)."""

from __future__ import annotations


class DomainError(Exception):
    """A business refusal: retrying the same request cannot succeed."""

    code: str = "domain-error"
    title: str = "Request refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @classmethod
    def from_detail(cls, detail: str) -> DomainError:
        """Rebuild the error from its detail alone (as it comes back from a saga)."""
        error = cls.__new__(cls)
        DomainError.__init__(error, detail)
        return error


class InvalidAppointment(DomainError):
    code = "invalid-appointment"
    title = "The appointment is not valid"


class SlotUnavailable(DomainError):
    code = "slot-unavailable"
    title = "The slot is taken"


class SlotNotOffered(DomainError):
    """The doctor does not offer this slot: off duty, outside working hours or off the grid."""

    code = "slot-not-offered"
    title = "The doctor does not offer this slot"


class PatientNotFound(DomainError):
    code = "patient-not-found"
    title = "Unknown patient"


class DoctorNotFound(DomainError):
    code = "doctor-not-found"
    title = "Unknown doctor"


class BillingRefused(DomainError):
    code = "billing-refused"
    title = "Billing refused the invoice"


class AppointmentNotFound(DomainError):
    code = "appointment-not-found"
    title = "Appointment not found"


class IllegalTransition(DomainError):
    code = "illegal-transition"
    title = "The appointment cannot make this change in its current status"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an appointment in status {current} cannot become {target}")
        self.current = current
        self.target = target


class NoShowBeforeStart(DomainError):
    """The status machine allows NO_SHOW, but only once the appointment has begun."""

    code = "no-show-before-start"
    title = "Too early for a no-show"


class AppointmentStarted(DomainError):
    """After its start an appointment can only be checked in, completed or recorded as a
    no-show: no confirmation, cancellation or move any more (a no-show is not turned into a
    cheap cancellation)."""

    code = "appointment-started"
    title = "The appointment has started"


class NoShowReversalClosed(DomainError):
    """A no-show is reversed (the patient did come) within 24 h of its recording only."""

    code = "no-show-reversal-closed"
    title = "Too late to reverse the no-show"


class ConcurrencyConflict(DomainError):
    code = "concurrent-modification"
    title = "The appointment was changed by someone else"


class InvalidScheduleWindow(DomainError):
    """A schedule query's window is unusable: a time without an offset, ``from`` not
    before ``to``, or wider than the configured maximum. Answered 422 (bad input); not a
    saga refusal, so it is not among ``BUSINESS_ERRORS``."""

    code = "invalid-schedule-window"
    title = "Invalid schedule window"


class PeerUnavailable(Exception):
    """A transient fault at a peer service (timeout, 5xx, connection refused): retry,
    after ``retry_after`` seconds when that is known (an open circuit breaker knows)."""

    retry_after: float | None = None

    def __init__(self, peer: str, detail: str) -> None:
        super().__init__(f"{peer}: {detail}")
        self.peer = peer
        self.detail = detail


class PeerFault(Exception):
    """A call to a peer that no retry can fix and that is nobody's business refusal: a bug
    on one side. It ends the step for good (never retried, even by a step retried until
    done) and leaves it to an operator."""

    def __init__(self, peer: str, detail: str) -> None:
        super().__init__(f"{peer}: {detail}")
        self.peer = peer
        self.detail = detail


class PeerContractError(PeerFault):
    """A peer answered something our contract does not allow (an unexpected 4xx, a body
    that does not parse). It did answer: a circuit breaker counts it as a success."""

    def __init__(self, peer: str, status: int | None, detail: str) -> None:
        super().__init__(peer, f"HTTP {status}: {detail}")
        self.status = status


class PeerRequestInvalid(PeerFault):
    """A request our own client cannot send (a header value or URL it refuses). Not an
    outage of the peer: a circuit breaker does not count it at all."""


BUSINESS_ERRORS: tuple[type[DomainError], ...] = (
    InvalidAppointment,
    SlotUnavailable,
    SlotNotOffered,
    PatientNotFound,
    DoctorNotFound,
    BillingRefused,
    AppointmentNotFound,
    IllegalTransition,
    NoShowBeforeStart,
    AppointmentStarted,
    NoShowReversalClosed,
    ConcurrencyConflict,
)
