"""Billing Service simulator: idempotent invoices that can be voided."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Response

from peers.contracts import Invoice, InvoiceRequest, InvoiceStatus
from simulators.faults import Refusal, apply_faults, create_simulator_app
from simulators.problems import IdempotencyKey
from simulators.state import SimulatorState


def create_billing_app(state: SimulatorState | None = None) -> FastAPI:
    simulator = state or SimulatorState.seeded()
    app = create_simulator_app("Billing Service simulator", simulator.reset_invoices)
    app.state.simulator = simulator
    router = APIRouter(dependencies=[Depends(apply_faults)], tags=["invoices"])

    @router.post("/invoices", status_code=201)
    async def create_invoice(
        request: InvoiceRequest, key: IdempotencyKey, refuse: Refusal, response: Response
    ) -> Invoice:
        invoice, created = await simulator.create_invoice(key, request, refuse=refuse)
        response.status_code = 201 if created else 200
        return invoice

    @router.get("/invoices")
    async def list_invoices(
        appointment_id: str | None = None, status: InvoiceStatus | None = None
    ) -> list[Invoice]:
        return await simulator.invoices(appointment_id, status)

    @router.get("/invoices/{invoice_id}")
    async def get_invoice(invoice_id: str) -> Invoice:
        return await simulator.get_invoice(invoice_id)

    @router.post("/invoices/{invoice_id}/void")
    async def void_invoice(invoice_id: str) -> Invoice:
        return await simulator.void_invoice(invoice_id)

    app.include_router(router)
    return app
