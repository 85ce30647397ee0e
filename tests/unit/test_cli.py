"""The command line: the first word picks the process, everything after it is that
command's own, ``--help`` included."""

from __future__ import annotations

import pytest

from cli import main


def test_a_commands_help_is_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["relay", "status", "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: appointment-service relay status")


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "api", "worker", "relay", "projector", "notifications", "token"):
        assert command in out


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["relays"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
