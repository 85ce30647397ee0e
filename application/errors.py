"""Refusals of the application layer that are not the domain's business rules: bad input,
a reused or malformed Idempotency-Key, and sagas that were cancelled or could not finish.
Each door maps them (with the domain's errors) to what it answers: a problem document, a
GraphQL error. None of them changed anything."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field of the input and what is wrong with it, in the door's own names."""

    field: str
    message: str


class Refused(Exception):
    """A request refused before or instead of any change."""

    code: str = "refused"
    title: str = "Request refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(Refused):
    """Input that breaks the command model's rules: ids, keys, times, sizes."""

    code = "validation-error"
    title = "The request is not valid"

    def __init__(self, field_errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in field_errors))
        self.field_errors = field_errors


class InvalidIdempotencyKey(Refused):
    code = "invalid-idempotency-key"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyReused(Refused):
    code = "idempotency-key-reused"
    title = "Idempotency-Key reused"

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different request")


class UnknownDoctor(Refused):
    """The doctor a read is about (not one named in a booking, which is the domain's
    DoctorNotFound): a missing resource."""

    code = "doctor-not-found"
    title = "Unknown doctor"


class SagaCancelled(Refused):
    title = "Cancelled"

    def __init__(self, saga: str) -> None:
        super().__init__(f"the {saga} saga was cancelled")
        self.code = f"{saga}-cancelled"


class SagaFailed(Refused):
    """A service the change depends on did not answer in time: nothing changed. The cause
    stays in the logs and the Temporal Web UI."""

    retry_after_seconds = 5

    def __init__(self, saga: str) -> None:
        super().__init__(
            "A service this change depends on did not answer in time; the change was not "
            "made. Retry later with a new Idempotency-Key."
        )
        self.code = f"{saga}-failed"
        self.title = f"The {saga} failed"


class TooManyRequests(Refused):
    """The caller asked more often than its quota allows (``application/quotas.py``):
    nothing was started; a later retry may pass."""

    code = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class PatientCapReached(Refused):
    """A booking for a patient who already holds the most active upcoming appointments a
    patient may hold: a conflict with the patient's bookings (cancel one first), not a
    malformed request."""

    code = "patient-cap-reached"
    title = "The patient holds too many upcoming appointments"

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"the patient already holds {cap} active upcoming appointments, the most a patient "
            "may hold; cancel one first (staff and admin may book over the cap with "
            "over_patient_cap)"
        )
        self.cap = cap


class SlotNoLongerFree(Refused):
    """A slot to hold (or a hold to book on) that is no longer free: taken, held by someone
    else, or the hold expired. The FHIR door answers it as IHE ITI Scheduling asks: an
    OperationOutcome with severity ``fatal`` and code ``not-found`` (HTTP 409)."""

    code = "slot-no-longer-free"
    title = "The slot is no longer free"
