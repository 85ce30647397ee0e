"""The late-change policy, captured on the appointment when it is booked so that later
changes of the clinic's rules never change what a patient agreed to.

One rule for every change a patient (or staff for them) makes to a booked appointment:
until ``free_until_hours_before`` the start a change is free; after that it is a late
change and carries the late fee. A cancellation is a change; so is a reschedule, for
bookings that captured ``late_reschedule_counts`` (every booking made since the rule
existed: moving a late appointment further out and then cancelling it for free no longer
dodges the fee). Bookings made before keep the policy they captured: their reschedule is
free. After the start nothing is changed any more (``domain.model.ensure_not_started``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

LateChange = Literal["cancel", "reschedule"]


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    free_until_hours_before: int = 24
    late_fee_cents: int = 2500
    # Whether a late reschedule is a late change too (False: the policy of bookings made
    # before the rule covered reschedules).
    late_reschedule_counts: bool = True

    def fee(self, start: datetime, changed_at: datetime, change: LateChange = "cancel") -> int:
        """Nothing until ``free_until_hours_before`` the start; the late fee after, for a
        cancellation, and for a reschedule where the policy counts it."""
        if change == "reschedule" and not self.late_reschedule_counts:
            return 0
        deadline = start - timedelta(hours=self.free_until_hours_before)
        return 0 if changed_at <= deadline else self.late_fee_cents
