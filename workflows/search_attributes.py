"""Search attributes that make a saga run findable in the Temporal Web UI. The local stack
registers them at start (localstack/servers.py); production registers them once with
``temporal operator search-attribute create``."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

APPOINTMENT_ID = SearchAttributeKey.for_keyword("AppointmentId")
PATIENT_ID = SearchAttributeKey.for_keyword("PatientId")
DOCTOR_ID = SearchAttributeKey.for_keyword("DoctorId")
BOOKING_STATUS = SearchAttributeKey.for_keyword("BookingStatus")
# Set on a saga run when a step that must finish (a compensation, a step after the commit
# point) was refused for good: the name of that step. `NeedsAttention IS NOT NULL` lists
# every run an operator must look at.
NEEDS_ATTENTION = SearchAttributeKey.for_keyword("NeedsAttention")
# Set on every saga run (booking, cancellation, reschedule) when it ends: COMPLETED,
# REJECTED (a business refusal: the run is Completed, not Failed) or FAILED
# (workflows.contracts.saga.SagaOutcome).
SAGA_OUTCOME = SearchAttributeKey.for_keyword("SagaOutcome")

# Set on every appointment journey (workflows/journey.py): when its next timer fires (a
# reminder or the no-show check); unset when nothing is left to time. `NextActionAt <
# "<now + 1h>"` lists what fires within the hour.
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")

# Set on every waitlist offer round (workflows/waitlist_offers.py): where it stands
# (workflows.contracts.waitlist.WaitlistStatus). `WorkflowType="SlotOfferWorkflow" AND
# WaitlistStatus="OFFERED"` lists the offers open now.
WAITLIST_STATUS = SearchAttributeKey.for_keyword("WaitlistStatus")

KEYWORDS = (
    APPOINTMENT_ID,
    PATIENT_ID,
    DOCTOR_ID,
    BOOKING_STATUS,
    NEEDS_ATTENTION,
    SAGA_OUTCOME,
    WAITLIST_STATUS,
)
ALL = (*KEYWORDS, NEXT_ACTION_AT)


async def register(client: Client, namespace: str) -> None:
    """Register the keyword attributes on a server that lacks them (the time-skipping test
    server, a fresh cluster). Registering existing ones again is harmless."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                **{key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in KEYWORDS},
                NEXT_ACTION_AT.name: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
            },
        )
    )
