"""The FHIR door in-process on the fakes, as tests/unit/api: the same app and world."""

from tests.unit.api.conftest import app, client, planted, settings, world

__all__ = ["app", "client", "planted", "settings", "world"]
