"""The waitlist's request and response bodies (Pydantic at the boundary), for REST; the
GraphQL types take their fields from these, so both doors show an entry alike."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from application.commands import NewWaitlistEntry
from domain.waitlist import EntryStatus, LeftBecause, Offer, OfferStatus, WaitlistEntry

_CLINIC_TIMEZONE = ZoneInfo("Europe/Berlin")
EXAMPLE_ID = "5b0e8f0a-6c1d-4a7e-9f2b-3c4d5e6f7a8b"
EXAMPLE_OFFER_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def _tomorrow_at(hour: int) -> str:
    tomorrow = datetime.now(_CLINIC_TIMEZONE).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(hour), _CLINIC_TIMEZONE).isoformat()


class WaitlistRequest(NewWaitlistEntry):
    """Validated strictly, as this schema says: the window's ends ISO 8601 date-time
    strings with an offset, `duration_minutes` a JSON integer, the ids matching their
    pattern as sent. `earliest_start` is not after `latest_start`, which is in the
    future, and lies within the booking horizon (365 days)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "pat-anna-schmidt",
                    "doctor_id": "doc-on-call",
                    "earliest_start": _tomorrow_at(8),
                    "latest_start": _tomorrow_at(12),
                    "duration_minutes": 15,
                    "priority": "routine",
                    "note": "any morning slot",
                }
            ]
        },
    )


class OpenOfferOut(BaseModel):
    """The entry's open offer: accept or decline it before `expires_at`."""

    id: str = Field(examples=[EXAMPLE_OFFER_ID])
    start: datetime = Field(description="UTC", examples=["2030-01-08T08:00:00Z"])
    end: datetime = Field(description="UTC", examples=["2030-01-08T08:15:00Z"])
    expires_at: datetime = Field(description="UTC", examples=["2030-01-07T14:15:00Z"])


class OfferOut(OpenOfferOut):
    """One offer made to the entry, open or closed."""

    status: OfferStatus
    offered_at: datetime
    closed_at: datetime | None = None
    appointment_id: str | None = Field(None, description="the booking, once accepted")

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        return cls(
            id=offer.id,
            start=offer.start,
            end=offer.end,
            expires_at=offer.expires_at,
            status=offer.status,
            offered_at=offer.offered_at,
            closed_at=offer.closed_at,
            appointment_id=offer.appointment_id,
        )


class WaitlistEntryOut(BaseModel):
    id: str = Field(examples=[EXAMPLE_ID])
    patient_id: str = Field(examples=["pat-anna-schmidt"])
    doctor_id: str = Field(examples=["doc-on-call"])
    earliest_start: datetime = Field(description="UTC")
    latest_start: datetime = Field(description="UTC")
    duration_minutes: int = Field(examples=[15])
    priority: Literal["routine", "urgent"]
    status: EntryStatus = Field(
        description="WAITING; OFFERED (an offer is open); FULFILLED (booked through an "
        "accepted offer); LEFT (taken off, or its window passed)"
    )
    timezone: str = Field(description="the clinic's IANA time zone", examples=["Europe/Berlin"])
    note: str | None = None
    joined_at: datetime
    updated_at: datetime | None = None
    version: int
    offer: OpenOfferOut | None = Field(description="the open offer; null when none is open")
    offers: list[OfferOut] = Field(description="every offer made to it, oldest first")
    appointment_id: str | None = Field(None, description="the booking that fulfilled it")
    left_because: LeftBecause | None = Field(
        None, description="`asked` (taken off) or `window_passed`"
    )

    @classmethod
    def of(cls, entry: WaitlistEntry) -> WaitlistEntryOut:
        open_offer = entry.open_offer
        return cls(
            id=entry.id,
            patient_id=entry.patient_id,
            doctor_id=entry.doctor_id,
            earliest_start=entry.earliest_start,
            latest_start=entry.latest_start,
            duration_minutes=entry.duration_minutes,
            priority=entry.priority.value,
            status=entry.status,
            timezone=entry.timezone,
            note=entry.note,
            joined_at=entry.joined_at,
            updated_at=entry.updated_at,
            version=entry.version,
            offer=(
                OpenOfferOut(
                    id=open_offer.id,
                    start=open_offer.start,
                    end=open_offer.end,
                    expires_at=open_offer.expires_at,
                )
                if open_offer
                else None
            ),
            offers=[OfferOut.of(o) for o in entry.offers],
            appointment_id=entry.appointment_id,
            left_because=entry.left_because,
        )


class WaitlistPage(BaseModel):
    items: list[WaitlistEntryOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class OfferBookingAccepted(BaseModel):
    """202: the offer is accepted and its booking still runs after the wait budget; poll
    ``Location`` (the entry), which names the appointment once it is booked."""

    entry_id: str
    offer_id: str
    status: str = "BOOKING"
