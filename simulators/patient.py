"""Patient Service simulator: read-only seeded patients."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from peers.contracts import Patient
from simulators.faults import Refusal, apply_faults, create_simulator_app
from simulators.problems import Problem
from simulators.state import SimulatorState


def create_patient_app(state: SimulatorState | None = None) -> FastAPI:
    simulator = state or SimulatorState.seeded()

    async def reset_transient() -> None:
        """Patients are seed data only; nothing transient to clear."""

    app = create_simulator_app("Patient Service simulator", reset_transient)
    app.state.simulator = simulator
    router = APIRouter(dependencies=[Depends(apply_faults)], tags=["patients"])

    @router.get("/patients")
    async def list_patients() -> list[Patient]:
        return list(simulator.patients.values())

    @router.get("/patients/{patient_id}")
    async def get_patient(patient_id: str, refuse: Refusal) -> Patient:
        patient = simulator.patients.get(patient_id)
        if patient is None or refuse():
            raise Problem(404, "patient-not-found", "Unknown patient", patient_id)
        return patient

    app.include_router(router)
    return app
