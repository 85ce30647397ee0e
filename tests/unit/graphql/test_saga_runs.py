"""The GraphQL door and saga runs' ids (application/saga_runs.py): a patient's booking
answers no ``workflowId`` while it runs and no ``bookingWorkflowId`` once booked, as REST
does; staff and admin are shown both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.graphql.conftest import MakeContext, execute

BOOK = """mutation ($input: BookAppointmentInput!, $key: String!) {
  bookAppointment(input: $input, idempotencyKey: $key) {
    pending workflowId appointment { bookingWorkflowId }
  }
}"""
# A week from now at 08:00 UTC, and an hour later: ahead, and within the booking horizon.
WEEK_AHEAD = (datetime.now(UTC) + timedelta(days=7)).replace(
    hour=8, minute=0, second=0, microsecond=0
)


async def book(make_context: MakeContext, role: str, wait: float, hours_later: int = 0) -> Any:
    """A booking of Anna's by ``role``, its saga answering at once (``wait`` 0: still
    running) or done."""
    context = make_context(role, "pat-anna-schmidt" if role == "patient" else "desk-1")
    context.wait_seconds = wait
    start = WEEK_AHEAD + timedelta(hours=hours_later)
    new = {
        "patientId": "pat-anna-schmidt",
        "doctorId": "doc-on-call",
        "start": start.isoformat(),
        "durationMinutes": 15,
    }
    result = await execute(context, BOOK, {"input": new, "key": f"k-{hours_later}"})
    assert result.errors is None, result.errors
    return result.data["bookAppointment"]


async def test_saga_runs_are_shown_to_staff_and_admin_only(make_context: MakeContext) -> None:
    running = await book(make_context, "patient", 0.0)
    booked = await book(make_context, "patient", 1.0, hours_later=1)

    assert running == {"pending": True, "workflowId": None, "appointment": None}
    assert booked == {
        "pending": False,
        "workflowId": None,
        "appointment": {"bookingWorkflowId": None},
    }
    for role in ("staff", "admin"):
        running = await book(make_context, role, 0.0)
        booked = await book(make_context, role, 1.0, hours_later=1)
        assert running["workflowId"].startswith("booking-")
        assert booked["appointment"]["bookingWorkflowId"].startswith("booking-")
