"""GET /api/v1/doctors/{id}/schedule: a doctor's schedule from the read view."""

from fastapi import APIRouter

router = APIRouter()
