"""The relay's status as a terminal shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from messaging.status import RelayStatus, describe


def test_describe_names_every_number() -> None:
    status = RelayStatus(
        backlog=12,
        parked=1,
        oldest_unpublished_age_seconds=42.25,
        last_published_at=datetime(2030, 1, 1, 8, 0, tzinfo=UTC),
    )
    assert describe(status).splitlines() == [
        "backlog                 12",
        "parked                  1",
        "oldest unpublished age  42.2 s",
        "last published at       2030-01-01T08:00:00+00:00",
    ]


def test_describe_an_outbox_that_never_published() -> None:
    status = RelayStatus(
        backlog=0, parked=0, oldest_unpublished_age_seconds=None, last_published_at=None
    )
    assert "oldest unpublished age  -" in describe(status)
    assert "last published at       -" in describe(status)
