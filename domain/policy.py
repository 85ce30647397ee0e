"""The cancellation policy, captured on the appointment when it is booked so that later
changes of the clinic's rules never change what a patient agreed to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    free_until_hours_before: int = 24
    late_fee_cents: int = 2500

    def fee(self, start: datetime, cancelled_at: datetime) -> int:
        """Nothing until ``free_until_hours_before`` the start; the late fee after."""
        deadline = start - timedelta(hours=self.free_until_hours_before)
        return 0 if cancelled_at <= deadline else self.late_fee_cents
