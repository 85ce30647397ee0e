"""Doctor Service simulator: doctors, their free slots and slot holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Response

from peers.contracts import Availability, Doctor, Hold, HoldRequest, HoldStatus
from simulators.faults import Refusal, apply_faults, create_simulator_app
from simulators.problems import IdempotencyKey, Problem
from simulators.schedule import free_slots, parse_window, why_not_offered
from simulators.state import SimulatorState


def create_doctor_app(state: SimulatorState | None = None) -> FastAPI:
    simulator = state or SimulatorState.seeded()
    app = create_simulator_app("Doctor Service simulator", simulator.reset_holds)
    app.state.simulator = simulator
    router = APIRouter(dependencies=[Depends(apply_faults)])

    def known_doctor(doctor_id: str) -> Doctor:
        doctor = simulator.doctors.get(doctor_id)
        if doctor is None:
            raise Problem(404, "doctor-not-found", "Unknown doctor", doctor_id)
        return doctor

    @router.get("/doctors", tags=["doctors"])
    async def list_doctors() -> list[Doctor]:
        return list(simulator.doctors.values())

    @router.get("/doctors/{doctor_id}", tags=["doctors"])
    async def get_doctor(doctor_id: str) -> Doctor:
        return known_doctor(doctor_id)

    @router.get("/doctors/{doctor_id}/availability", tags=["doctors"])
    async def availability(
        doctor_id: str,
        from_: Annotated[str, Query(alias="from", description="ISO 8601 with an offset")],
        to: Annotated[str, Query(description="ISO 8601 with an offset")],
        refuse: Refusal,
    ) -> Availability:
        doctor = known_doctor(doctor_id)
        start, end = parse_window(from_, to)
        slots = [] if refuse() else free_slots(doctor, start, end, await simulator.busy(doctor_id))
        return Availability(
            doctor_id=doctor_id, from_=start, to=end, slot_minutes=doctor.slot_minutes, slots=slots
        )

    @router.post("/doctors/{doctor_id}/holds", status_code=201, tags=["holds"])
    async def create_hold(
        doctor_id: str,
        request: HoldRequest,
        key: IdempotencyKey,
        refuse: Refusal,
        response: Response,
    ) -> Hold:
        reason = why_not_offered(known_doctor(doctor_id), request.start, request.duration_minutes)
        if reason is not None:
            raise Problem(422, "slot-not-offered", "The doctor does not offer this slot", reason)
        hold, created = await simulator.create_hold(doctor_id, key, request, refuse=refuse)
        response.status_code = 201 if created else 200
        return hold

    @router.get("/holds", tags=["holds"])
    async def list_holds(
        doctor_id: str | None = None, status: HoldStatus | None = None
    ) -> list[Hold]:
        return await simulator.holds(doctor_id, status)

    @router.get("/holds/{hold_id}", tags=["holds"])
    async def get_hold(hold_id: str) -> Hold:
        return await simulator.hold(hold_id)

    @router.post("/holds/{hold_id}/confirm", tags=["holds"])
    async def confirm_hold(hold_id: str) -> Hold:
        return await simulator.confirm_hold(hold_id)

    @router.post("/holds/{hold_id}/release", tags=["holds"])
    async def release_hold(hold_id: str) -> Hold:
        return await simulator.release_hold(hold_id)

    app.include_router(router)
    return app
