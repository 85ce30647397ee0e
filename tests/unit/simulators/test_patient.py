"""Patient Service simulator: seeded, read-only patients."""

from __future__ import annotations

import httpx

from peers.contracts import Patient


async def test_patients_are_seeded_with_readable_ids(patient_api: httpx.AsyncClient) -> None:
    response = await patient_api.get("/patients")
    patients = [Patient.model_validate(item) for item in response.json()]
    assert len(patients) >= 8
    assert all(patient.id.startswith("pat-") for patient in patients)


async def test_a_patient_is_found_by_id(patient_api: httpx.AsyncClient) -> None:
    response = await patient_api.get("/patients/pat-anna-schmidt")
    assert response.status_code == 200
    assert Patient.model_validate(response.json()).name == "Anna Schmidt"


async def test_an_unknown_patient_is_a_404_problem(patient_api: httpx.AsyncClient) -> None:
    response = await patient_api.get("/patients/pat-nobody")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://clinic.example/problems/patient-not-found",
        "title": "Unknown patient",
        "status": 404,
        "detail": "pat-nobody",
    }


async def test_an_unknown_route_is_a_problem_too(patient_api: httpx.AsyncClient) -> None:
    response = await patient_api.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
