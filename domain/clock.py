"""The one clock and the one rule for instants: every time is stored and compared as an
aware UTC instant (ARCHITECTURE §3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

# Something that tells the time; injected where tests need to choose the instant.
Clock = Callable[[], datetime]


def now_utc() -> datetime:
    """Now, cut to MongoDB's milliseconds, so events and state read back byte-identical."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def utc(instant: datetime) -> datetime:
    """``instant`` as an aware UTC datetime. MongoDB answers naive UTC unless the client is
    tz-aware, so a naive instant read back from storage is taken to be UTC."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
