"""The names beside the ids: asked of the real simulators (in-process), cached, retried
while a peer is down, None only for someone the peer does not know."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from peers.contracts import Patient
from peers.doctors import DoctorClient
from peers.patients import PatientClient
from projections.fold import Names
from projections.names import Directory
from projections.retry import Backoff, Stopping
from simulators.doctor import create_doctor_app
from simulators.patient import create_patient_app
from simulators.state import SimulatorState
from tests.clocks import Ticks

ANNA, DOCTOR = "pat-anna-schmidt", "doc-amelia-hart"
ANNA_WITH_HART = Names("Anna Schmidt", "Dr. Amelia Hart", "cardiology")
FAST = Backoff(initial=0.01, maximum=0.02)


@dataclass
class Peers:
    state: SimulatorState
    patients: PatientClient
    doctors: DoctorClient
    patient_sim: httpx.AsyncClient
    doctor_sim: httpx.AsyncClient
    stop: asyncio.Event
    clock: Ticks

    def directory(self) -> Directory:
        return Directory(self.patients, self.doctors, self.stop, backoff=FAST, clock=self.clock)

    async def fault(self, peer: str, **config: object) -> None:
        sim = self.patient_sim if peer == "patient" else self.doctor_sim
        (await sim.put("/_sim/faults", json=config)).raise_for_status()


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    state = SimulatorState.seeded()
    patient_app, doctor_app = create_patient_app(state), create_doctor_app(state)
    base = "http://simulator"
    patient_sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=patient_app), base_url=base)
    doctor_sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=doctor_app), base_url=base)
    patients = PatientClient(base, 2.0, transport=httpx.ASGITransport(app=patient_app))
    doctors = DoctorClient(base, 2.0, transport=httpx.ASGITransport(app=doctor_app))
    yield Peers(state, patients, doctors, patient_sim, doctor_sim, asyncio.Event(), Ticks(0.0))
    for client in (patient_sim, doctor_sim, patients, doctors):
        await client.aclose()


async def test_names_of_known_and_unknown_people(peers: Peers) -> None:
    names = await peers.directory().names(
        [(ANNA, DOCTOR), ("pat-nobody", DOCTOR), (ANNA, "doc-nobody")]
    )
    assert names == {
        (ANNA, DOCTOR): ANNA_WITH_HART,
        ("pat-nobody", DOCTOR): Names(None, "Dr. Amelia Hart", "cardiology"),
        (ANNA, "doc-nobody"): Names("Anna Schmidt", None, None),
    }


async def test_a_cached_name_needs_no_peer(peers: Peers) -> None:
    directory = peers.directory()
    await directory.names([(ANNA, DOCTOR)])
    await peers.fault("patient", mode="fail")
    await peers.fault("doctor", mode="fail")
    assert await directory.names([(ANNA, DOCTOR)]) == {(ANNA, DOCTOR): ANNA_WITH_HART}


async def test_a_name_is_asked_again_once_its_entry_expired(peers: Peers) -> None:
    directory = peers.directory()
    await directory.names([(ANNA, DOCTOR)])
    renamed = Patient(id=ANNA, name="Anna Berg", email="anna@example.org")
    peers.state.patients[ANNA] = renamed
    assert (await directory.names([(ANNA, DOCTOR)]))[ANNA, DOCTOR].patient_name == "Anna Schmidt"
    peers.clock.now += 601
    assert (await directory.names([(ANNA, DOCTOR)]))[ANNA, DOCTOR].patient_name == "Anna Berg"


async def test_a_peer_that_is_down_is_asked_again_until_it_answers(peers: Peers) -> None:
    await peers.fault("patient", mode="fail", times=3)
    await peers.fault("doctor", mode="fail", times=2)
    names = await peers.directory().names([(ANNA, DOCTOR)])
    assert names == {(ANNA, DOCTOR): ANNA_WITH_HART}  # never None for a peer that was down


async def test_each_wait_for_a_peer_that_is_down_is_told_so_the_projector_stays_alive(
    peers: Peers,
) -> None:
    await peers.fault("patient", mode="fail", times=3)
    waits: list[None] = []
    directory = Directory(
        peers.patients,
        peers.doctors,
        peers.stop,
        backoff=FAST,
        clock=peers.clock,
        waiting=lambda: waits.append(None),
    )
    names = await directory.names([(ANNA, DOCTOR)])
    assert names == {(ANNA, DOCTOR): ANNA_WITH_HART}
    assert len(waits) == 3  # one per failed attempt, before its pause


async def test_stopping_while_a_peer_is_down_abandons_the_lookup(peers: Peers) -> None:
    await peers.fault("patient", mode="fail")
    lookup = asyncio.create_task(peers.directory().names([(ANNA, DOCTOR)]))
    await asyncio.sleep(0.1)
    assert not lookup.done()  # still retrying
    peers.stop.set()
    with pytest.raises(Stopping):
        await asyncio.wait_for(lookup, 1.0)


async def test_all_doctors_in_one_call(peers: Peers) -> None:
    directory = peers.directory()
    await directory.warm_doctors()
    await peers.fault("doctor", mode="fail")
    names = await directory.names([(ANNA, "doc-on-call")])
    assert names[ANNA, "doc-on-call"].doctor_name == "Dr. Noah Fischer (on call)"
