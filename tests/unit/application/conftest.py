"""The use cases on in-memory fakes (tests/fakes.py), with the clock fixed at NOW."""

from __future__ import annotations

import pytest

from tests.fakes import World
from tests.unit.application.support import NOW, SETTINGS


@pytest.fixture
def world() -> World:
    return World(settings=SETTINGS, now=NOW)
