"""What a booking saga is started with (``BookingRequest``), shows while it runs
(``BookingProgress``) and ends with (``BookingOutcome``).

Apart from ``workflows/booking.py`` on purpose: the sandbox runs a workflow's own module
afresh for every run, and building these pydantic models each time was a measurable part
of the worker's CPU per booking (bench/). Imported passed through, they are built once."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from activities.models import Caller
from workflows.invoicing import BillingOutagePolicy
from workflows.search_attributes import BookingStatus


class BookingRequest(BaseModel):
    appointment_id: str
    patient_id: str
    doctor_id: str
    start: AwareDatetime
    duration_minutes: int
    reason: str | None = None
    idempotency_key: str
    fingerprint: str  # of the request body: the same key with another body is refused
    caller: Caller
    # Captured from the settings when the run starts, so it holds for the run's whole life
    # (the defaults are what runs started before these fields existed did).
    billing_outage_policy: BillingOutagePolicy = "compensate"
    billing_retry_max_interval_seconds: float = 60.0
    # Forward steps as local activities (settings.saga_local_steps). False for runs started
    # before the field existed: they replay with the regular activities they ran.
    local_steps: bool = False


class BookingProgress(BaseModel):
    appointment_id: str
    fingerprint: str
    status: BookingStatus
    step: str
    failed_step: str | None = None
    error_type: str | None = None
    error_detail: str | None = None


class BookingOutcome(BaseModel):
    appointment_id: str
    status: str
    hold_id: str
    invoice_id: str | None  # None: booked while Billing was down, then cancelled uninvoiced
