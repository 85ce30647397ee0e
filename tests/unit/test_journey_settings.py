"""The journey's settings are read once, checked at start: a process never runs with a
value that would break every journey or every reminder later."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import ValidationError

from config import load_settings
from domain.journey import QuietHours


def test_the_defaults_are_the_issues() -> None:
    rules = load_settings().journey_rules
    assert rules.reminder_offsets_minutes == (1440, 120)
    assert rules.quiet_hours == QuietHours(time(21), time(8))
    assert rules.no_show_grace_minutes == 15


def test_offsets_are_kept_largest_first_once_each() -> None:
    settings = load_settings(reminder_offsets_minutes=[120, 1440, 120])
    assert settings.reminder_offsets_minutes == [1440, 120]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("reminder_offsets_minutes", [0]),
        ("reminder_offsets_minutes", [-5]),
        ("quiet_hours", "9pm-8am"),
        ("quiet_hours", "25:00-08:00"),
        ("no_show_grace_minutes", -1),
        ("no_show_fee_cents", -1),
        ("public_base_url", "appointments.example.com"),
        ("public_base_url", "/a"),
        ("public_base_url", "ftp://clinic.example"),
        ("public_base_url", "https://"),
    ],
)
def test_a_value_that_would_break_journeys_is_refused_at_start(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        load_settings(**{name: value})


def test_quiet_hours_can_be_turned_off_and_the_base_url_loses_its_trailing_slash() -> None:
    settings = load_settings(quiet_hours="off", public_base_url="https://clinic.example/")
    assert settings.journey_rules.quiet_hours is None
    assert settings.public_base_url == "https://clinic.example"
