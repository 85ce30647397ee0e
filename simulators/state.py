"""What the simulators remember: seeded doctors and patients (read-only) and the transient
holds and invoices, optionally persisted to a JSON file so the local stack survives a restart.

One object serves all three simulators; each resets only its own transient part."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from pydantic import BaseModel

from peers.contracts import (
    Doctor,
    Hold,
    HoldRequest,
    HoldStatus,
    Invoice,
    InvoiceRequest,
    InvoiceStatus,
    Patient,
)
from simulators.faults import RefusalCheck
from simulators.problems import Problem
from simulators.schedule import Interval, overlaps
from simulators.seed_data import DOCTORS, PATIENTS

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Snapshot(BaseModel):
    holds: list[Hold] = []
    hold_keys: dict[str, str] = {}
    invoices: list[Invoice] = []


def _write_atomically(path: Path, text: str) -> None:
    # A crash mid-write must leave the previous file, never half of a new one.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _key_reused(kind: str) -> Problem:
    # A client bug: the same key must always mean the same request.
    return Problem(
        409, "idempotency-key-reused", "Idempotency key reused", f"this key named another {kind}"
    )


class SimulatorState:
    """All mutations run under one asyncio lock: check-then-write (is the slot free? then
    hold it) is atomic, even though persisting awaits a thread in between."""

    def __init__(
        self,
        doctors: Iterable[Doctor],
        patients: Iterable[Patient],
        *,
        state_file: Path | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.doctors = {doctor.id: doctor for doctor in doctors}
        self.patients = {patient.id: patient for patient in patients}
        self.clock = clock
        self._state_file = state_file
        self._lock = asyncio.Lock()
        self._dirty = False
        self._holds: dict[str, Hold] = {}
        self._hold_keys: dict[str, str] = {}
        self._invoices: dict[str, Invoice] = {}
        if state_file is not None and state_file.exists():
            self._load(state_file)

    @classmethod
    def seeded(cls, *, state_file: Path | None = None, clock: Clock = utc_now) -> SimulatorState:
        return cls(DOCTORS, PATIENTS, state_file=state_file, clock=clock)

    # --- persistence ------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        snapshot = _Snapshot.model_validate_json(path.read_text(encoding="utf-8"))
        self._holds = {hold.id: hold for hold in snapshot.holds}
        self._hold_keys = dict(snapshot.hold_keys)
        self._invoices = {invoice.id: invoice for invoice in snapshot.invoices}

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        async with self._lock:
            try:
                yield
            finally:
                # Also after a refusal: a lazily expired hold is a change worth keeping.
                if self._dirty and self._state_file is not None:
                    snapshot = _Snapshot(
                        holds=list(self._holds.values()),
                        hold_keys=self._hold_keys,
                        invoices=list(self._invoices.values()),
                    )
                    await asyncio.to_thread(
                        _write_atomically, self._state_file, snapshot.model_dump_json(indent=1)
                    )
                self._dirty = False

    def _put_hold(self, hold: Hold) -> Hold:
        self._holds[hold.id] = hold
        self._dirty = True
        return hold

    def _put_invoice(self, invoice: Invoice) -> Invoice:
        self._invoices[invoice.id] = invoice
        self._dirty = True
        return invoice

    # --- holds --------------------------------------------------------------------------

    def _fresh(self, hold: Hold) -> Hold:
        """Expiry is lazy: a HELD hold past ``expires_at`` becomes EXPIRED when next read."""
        if hold.status is HoldStatus.HELD and self.clock() >= hold.expires_at:
            return self._put_hold(hold.model_copy(update={"status": HoldStatus.EXPIRED}))
        return hold

    def _hold(self, hold_id: str) -> Hold:
        hold = self._holds.get(hold_id)
        if hold is None:
            raise Problem(404, "hold-not-found", "Unknown hold", hold_id)
        return self._fresh(hold)

    def _active(self, doctor_id: str) -> list[Hold]:
        holds = [self._fresh(hold) for hold in list(self._holds.values())]
        return [
            hold
            for hold in holds
            if hold.doctor_id == doctor_id
            and hold.status in (HoldStatus.HELD, HoldStatus.CONFIRMED)
        ]

    async def holds(
        self, doctor_id: str | None = None, status: HoldStatus | None = None
    ) -> list[Hold]:
        async with self._transaction():
            holds = [self._fresh(hold) for hold in list(self._holds.values())]
        return [
            hold
            for hold in holds
            if (doctor_id is None or hold.doctor_id == doctor_id)
            and (status is None or hold.status is status)
        ]

    async def hold(self, hold_id: str) -> Hold:
        async with self._transaction():
            return self._hold(hold_id)

    async def busy(self, doctor_id: str) -> list[Interval]:
        async with self._transaction():
            return [(hold.start, hold.end) for hold in self._active(doctor_id)]

    async def create_hold(
        self, doctor_id: str, key: str, request: HoldRequest, *, refuse: RefusalCheck
    ) -> tuple[Hold, bool]:
        """The hold and whether it is new. A known key answers its hold as it is now, so a
        caller retrying after a lost response never holds two slots."""
        start = request.start.astimezone(UTC)
        end = start + timedelta(minutes=request.duration_minutes)
        async with self._transaction():
            known = self._hold_keys.get(key)
            if known is not None:
                hold = self._hold(known)
                asked = (doctor_id, request.patient_id, start, end)
                if (hold.doctor_id, hold.patient_id, hold.start, hold.end) != asked:
                    raise _key_reused("hold")
                return hold, False
            if refuse() or any(
                overlaps((start, end), (hold.start, hold.end)) for hold in self._active(doctor_id)
            ):
                raise Problem(409, "slot-unavailable", "The slot is taken", start.isoformat())
            now = self.clock()
            hold = Hold(
                id=f"hold-{uuid4().hex[:16]}",
                doctor_id=doctor_id,
                patient_id=request.patient_id,
                start=start,
                end=end,
                status=HoldStatus.HELD,
                expires_at=now + timedelta(seconds=request.ttl_seconds),
            )
            self._hold_keys[key] = hold.id
            return self._put_hold(hold), True

    async def confirm_hold(self, hold_id: str) -> Hold:
        async with self._transaction():
            hold = self._hold(hold_id)
            if hold.status is HoldStatus.HELD:
                return self._put_hold(hold.model_copy(update={"status": HoldStatus.CONFIRMED}))
            if hold.status is HoldStatus.CONFIRMED:
                return hold
            code = "hold-expired" if hold.status is HoldStatus.EXPIRED else "hold-released"
            raise Problem(409, code, "The hold can no longer be confirmed", hold.status.value)

    async def release_hold(self, hold_id: str) -> Hold:
        async with self._transaction():
            hold = self._hold(hold_id)
            if hold.status in (HoldStatus.HELD, HoldStatus.CONFIRMED):
                return self._put_hold(hold.model_copy(update={"status": HoldStatus.RELEASED}))
            return hold

    async def reset_holds(self) -> None:
        async with self._transaction():
            self._holds.clear()
            self._hold_keys.clear()
            self._dirty = True

    # --- invoices -----------------------------------------------------------------------

    async def create_invoice(
        self, key: str, request: InvoiceRequest, *, refuse: RefusalCheck
    ) -> tuple[Invoice, bool]:
        async with self._transaction():
            known = next((i for i in self._invoices.values() if i.idempotency_key == key), None)
            if known is not None:
                if InvoiceRequest.model_validate(known, from_attributes=True) != request:
                    raise _key_reused("invoice")
                return known, False
            if refuse():
                raise Problem(402, "payment-refused", "Billing refused the invoice")
            invoice = Invoice(
                id=f"inv-{uuid4().hex[:16]}",
                **request.model_dump(),
                status=InvoiceStatus.OPEN,
                idempotency_key=key,
                created_at=self.clock(),
            )
            return self._put_invoice(invoice), True

    def _invoice(self, invoice_id: str) -> Invoice:
        invoice = self._invoices.get(invoice_id)
        if invoice is None:
            raise Problem(404, "invoice-not-found", "Unknown invoice", invoice_id)
        return invoice

    async def get_invoice(self, invoice_id: str) -> Invoice:
        async with self._transaction():
            return self._invoice(invoice_id)

    async def void_invoice(self, invoice_id: str) -> Invoice:
        async with self._transaction():
            invoice = self._invoice(invoice_id)
            if invoice.status is InvoiceStatus.VOID:
                return invoice
            return self._put_invoice(invoice.model_copy(update={"status": InvoiceStatus.VOID}))

    async def invoices(
        self, appointment_id: str | None = None, status: InvoiceStatus | None = None
    ) -> list[Invoice]:
        async with self._transaction():
            return [
                invoice
                for invoice in self._invoices.values()
                if (appointment_id is None or invoice.appointment_id == appointment_id)
                and (status is None or invoice.status is status)
            ]

    async def reset_invoices(self) -> None:
        async with self._transaction():
            self._invoices.clear()
            self._dirty = True
