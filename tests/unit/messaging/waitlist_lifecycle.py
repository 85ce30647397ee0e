"""Real waitlist changes made by the real domain functions (domain/waitlist.py), one of
each event type in one lifecycle, for the contract and the notification consumer's
tests: the events are exactly what the service would produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.waitlist import (
    EntryStatus,
    LeftBecause,
    Offer,
    OfferStatus,
    Priority,
    WaitlistChange,
    WaitlistEntry,
    close_offer,
    fulfil,
    join,
    leave,
    make_offer,
)

T0 = datetime(2030, 1, 1, 8, 0, 0, 123000, tzinfo=UTC)
NINE = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
ACTOR = "system:waitlist"
LINKS = {
    "accept": "http://127.0.0.1:8000/a/eyJvIjoiYWNjZXB0In0.c2ln",
    "decline": "http://127.0.0.1:8000/a/eyJvIjoiZGVjbGluZSJ9.c2ln",
}


def joined() -> WaitlistChange:
    entry = WaitlistEntry(
        id="6f1c0b7e-0d0a-4a43-9a53-2f3c7d1e9b10",
        patient_id="pat-anna-schmidt",
        doctor_id="doc-on-call",
        earliest_start=NINE - timedelta(days=1),
        latest_start=NINE + timedelta(days=2),
        duration_minutes=30,
        priority=Priority.URGENT,
        status=EntryStatus.WAITING,
        joined_at=T0,
        version=0,
        timezone="Europe/Berlin",
        note="Persistent cough, please call first",
    )
    return join(entry, "join-key", "staff:frontdesk-1")


def offered(entry: WaitlistEntry, offer_id: str = "offer-1") -> WaitlistChange:
    offer = Offer(
        id=offer_id,
        round_id="offer-doc-on-call-20300108T0800Z",
        start=NINE,
        end=NINE + timedelta(minutes=30),
        offered_at=T0 + timedelta(hours=1),
        expires_at=T0 + timedelta(hours=1, minutes=15),
    )
    details = {
        "offer_id": offer.id,
        "start": offer.start,  # made JSON by the envelope
        "end": offer.end,
        "expires_at": offer.expires_at,
        "doctor_name": "Dr. Noah Fischer",
        "local_start": "2030-01-08T09:00:00+01:00",
        "timezone": "Europe/Berlin",
        "links": LINKS,
    }
    return make_offer(entry, offer, f"make/{offer_id}", ACTOR, details)


def every_type() -> list[WaitlistChange]:
    """One change of each type, made by the real domain functions, in a lifecycle."""
    first = joined()
    offer = offered(first.state)
    expired = close_offer(offer.state, "offer-1", OfferStatus.EXPIRED, T0, "exp", ACTOR)
    assert expired is not None
    second = offered(expired.state, "offer-2")
    declined = close_offer(second.state, "offer-2", OfferStatus.DECLINED, T0, "no", ACTOR)
    assert declined is not None
    third = offered(declined.state, "offer-3")
    booked = fulfil(third.state, "offer-3", "appt-1", T0, "booked", ACTOR)
    left = leave(declined.state, LeftBecause.WINDOW_PASSED, T0, "left", ACTOR)
    return [first, offer, expired, second, declined, third, booked, left]
