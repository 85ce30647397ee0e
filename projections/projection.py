"""Folding the event store into the read view, appointment by appointment.

Idempotent per event: an appointment is projected by folding ITS events after the row's
version onto the row (``projections.fold``): those the change stream brought when they
continue the row without a gap (stored events never change, so the stream's copies are
the store's), otherwise those read from the event store; and the row is written only
over an older version of itself (``ViewStore.write``). So a change event seen twice, a
replay after a restart, a catch-up overlapping the stream, or two projectors at once
never lose an event nor move a row backwards.

The same holds for each entry of the doctor's days (``projections.days``), which are
written from the same rows, under a version guard per entry, before the rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from projections.days import visited
from projections.fold import StoredEvent, ViewRow, fold
from projections.names import Directory
from projections.retry import Stopping
from projections.view_store import ViewStore


@dataclass(frozen=True, slots=True)
class Tally:
    rows: int = 0  # rows written
    events: int = 0  # events folded into them

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.rows + other.rows, self.events + other.events)


class Projection:
    def __init__(self, store: ViewStore, directory: Directory, clinic_zone: ZoneInfo) -> None:
        self._store, self._directory, self._zone = store, directory, clinic_zone

    async def project(
        self,
        appointment_ids: Collection[str],
        seen: Mapping[str, Sequence[StoredEvent]] | None = None,
    ) -> Tally:
        """Bring the rows of these appointments up to their latest stored events.

        ``seen``: events already at hand (the change stream's copies of stored events).
        An appointment whose seen events continue its row without a gap is folded from
        them alone; the others read their events after the row's version from the store.
        Stored events seen later are folded when they come."""
        rows = await self._store.rows(appointment_ids)
        versions = {i: rows[i].version if i in rows else 0 for i in appointment_ids}
        at_hand = {i: _continuing(versions[i], (seen or {}).get(i)) for i in versions}
        events = await self._store.events_after(
            {i: v for i, v in versions.items() if at_hand[i] is None}
        )
        events.update((i, found) for i, found in at_hand.items() if found is not None)
        folded = [fold(rows.get(i), i, events[i], self._zone) for i in appointment_ids]
        written = [row for row in folded if row is not None]
        # A row already in the view keeps its names (ids never change); a new one asks
        # the peers, which may take retries but never skips the row.
        new = await self._named([row for row in written if row.id not in rows])
        # The days each appointment was on, from its stored row on: it leaves those it
        # is no longer on.
        left = {row.id: visited(rows.get(row.id), events[row.id]) for row in written}
        await self._store.write(
            [*new, *(row for row in written if row.id in rows)], rows.keys(), left
        )
        return Tally(len(written), sum(len(events[row.id]) for row in written))

    async def catch_up(
        self,
        stop: asyncio.Event,
        *,
        batch_size: int = 1000,
        empty: bool | None = None,
        on_batch: Callable[[Tally], None] | None = None,
    ) -> Tally:
        """Every appointment, folded from all its events, ``batch_size`` appointments at a
        time (one bulk write each). Run on a first start, after a lost resume token, and
        by a rebuild. Raises ``Stopping`` between batches once ``stop`` is set.

        Into an ``empty`` view (asked when None) rows are simply inserted. Otherwise the
        stored versions are read first and only rows that are behind are written: a
        catch-up after a lost resume token finds almost every row current, and reading a
        version is far cheaper than a guarded replacement.

        A batch is written while the next one is read and folded (one write in flight):
        both wait mostly on the server, so overlapping them saves most of one of them.

        ``on_batch`` is told the tally so far after each batch is folded (the progress
        line of a rebuild, the projector's heartbeat).

        The doctor's days: each batch writes the tombstones of the days its appointments
        left before their rows; once every row is in, the days are brought up to the rows
        (``ViewStore.days_from_rows``, along the rows' index, so that is made first). A
        catch-up cut short saves no checkpoint, so the next start does all of it again."""
        if empty is None:
            empty = await self._store.view_is_empty()
        await self._directory.warm_doctors()  # a handful of doctors, asked in one call
        tally = Tally()
        writing: asyncio.Task[None] | None = None
        try:
            async for batch in _by_appointment(self._store.all_events(), batch_size):
                rows = [fold(None, i, events, self._zone) for i, events in batch.items()]
                if writing is not None:
                    await writing
                if stop.is_set():
                    raise Stopping
                current = [row for row in rows if row is not None]
                moved = {row.id: visited(None, batch[row.id]) for row in current}
                left = {i: found for i, found in moved.items() if len(found) > 1}
                writing = asyncio.create_task(self._catch_up_rows(current, empty, left))
                tally += Tally(len(batch), sum(len(events) for events in batch.values()))
                if on_batch is not None:
                    on_batch(tally)
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
        if stop.is_set():
            raise Stopping
        await self._store.index_view()
        await self._store.days_from_rows()
        return tally

    async def _catch_up_rows(
        self, rows: Sequence[ViewRow], empty: bool, left: Mapping[str, Collection[str]]
    ) -> None:
        stored = {} if empty else await self._store.versions([row.id for row in rows])
        behind = [row for row in rows if row.version > stored.get(row.id, 0)]
        await self._store.write_days(behind, left, live=False)
        await self._store.write_rows(await self._named(behind), stored.keys())

    async def _named(self, rows: Sequence[ViewRow]) -> list[ViewRow]:
        names = await self._directory.names((row.patient_id, row.doctor_id) for row in rows)
        return [row.named(names[row.patient_id, row.doctor_id]) for row in rows]


def _continuing(version: int, seen: Sequence[StoredEvent] | None) -> list[StoredEvent] | None:
    """The events of ``seen`` after ``version``, in order, if they continue it without a
    gap (none at all: ``seen`` only repeats what the row holds); None when they do not,
    or nothing was seen: then the store tells."""
    if not seen:
        return None
    after = sorted({e.seq: e for e in seen if e.seq > version}.values(), key=lambda e: e.seq)
    gap_free = not after or after[-1].seq - version == len(after)  # distinct seqs, sorted
    return after if gap_free else None


async def _by_appointment(
    events: AsyncIterator[StoredEvent], size: int
) -> AsyncIterator[dict[str, list[StoredEvent]]]:
    """Events in (appointment, seq) order, grouped per appointment, ``size`` appointments
    per batch; an appointment's events are never split across two batches."""
    batch: dict[str, list[StoredEvent]] = {}
    async for event in events:
        if event.appointment_id not in batch and len(batch) >= size:
            yield batch
            batch = {}
        batch.setdefault(event.appointment_id, []).append(event)
    if batch:
        yield batch
