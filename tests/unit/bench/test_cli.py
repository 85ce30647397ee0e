"""The command line: levels, --quick and explicit options."""

from __future__ import annotations

import argparse

import pytest

from bench.__main__ import levels_list, options_from, parser, setting


def test_levels_are_a_comma_separated_list_of_positive_integers() -> None:
    assert levels_list("1,4,16,32") == [1, 4, 16, 32]
    assert levels_list(" 2 , 8 ") == [2, 8]
    for bad in ("", "1,x", "0,4", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            levels_list(bad)


def test_the_defaults() -> None:
    options = options_from(parser().parse_args([]))
    assert options.levels == [1, 4, 16, 32]
    assert options.seconds == 15.0
    assert options.view_size == 100_000
    assert options.read_concurrency == 1
    assert not options.quick


def test_quick_shortens_everything_and_explicit_options_still_win() -> None:
    quick = options_from(parser().parse_args(["--quick"]))
    assert quick.quick
    assert quick.levels == [1, 4]
    assert quick.seconds == 5.0
    assert quick.view_size < 100_000
    mixed = options_from(parser().parse_args(["--quick", "--levels", "2", "--view-size", "100000"]))
    assert mixed.levels == [2]
    assert mixed.seconds == 5.0
    assert mixed.view_size == 100_000


def test_settings_of_the_service_can_be_set_by_name() -> None:
    options = options_from(
        parser().parse_args(["--set", "saga_local_steps=false", "--set", "BOOKING_WAIT_SECONDS=20"])
    )
    assert options.overrides == {"saga_local_steps": "false", "booking_wait_seconds": "20"}
    assert options_from(parser().parse_args([])).overrides == {}


@pytest.mark.parametrize("bad", ["no_such_setting=1", "saga_local_steps", "=1"])
def test_an_unknown_or_malformed_setting_is_refused(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        setting(bad)
