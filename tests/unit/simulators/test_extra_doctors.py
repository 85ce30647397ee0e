"""Doctors of your own on the local stack: ``<state dir>/doctors.json`` adds to the seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from simulators.runner import EXTRA_DOCTORS_FILE, extra_doctors

DOCTOR = {
    "id": "doc-walk-in",
    "name": "Dr. Walk In",
    "specialty": "general practice",
    "timezone": "Europe/Berlin",
    "slot_minutes": 5,
    "working_hours": [{"weekday": 0, "start": "08:00:00", "end": "12:00:00"}],
}


def test_none_without_a_folder_or_a_file(tmp_path: Path) -> None:
    assert extra_doctors(None) == []
    assert extra_doctors(tmp_path) == []


def test_the_files_doctors_are_read(tmp_path: Path) -> None:
    (tmp_path / EXTRA_DOCTORS_FILE).write_text(json.dumps([DOCTOR]))
    [doctor] = extra_doctors(tmp_path)
    assert (doctor.id, doctor.slot_minutes) == ("doc-walk-in", 5)


def test_a_file_that_is_not_a_list_of_doctors_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / EXTRA_DOCTORS_FILE).write_text(json.dumps([{"id": "doc-half"}]))
    with pytest.raises(ValidationError):
        extra_doctors(tmp_path)
