"""The command line: the first word picks the process, everything after it is that
command's own, ``--help`` included."""

from __future__ import annotations

from pathlib import Path

import jwt
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


def test_a_token_may_carry_smart_scopes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPOINTMENTS_DATA_DIR", str(tmp_path))
    main(["token", "--sub", "app-1", "--scope", "patient/Appointment.rs", "--patient", "pat-1"])
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert claims["scope"] == "patient/Appointment.rs"
    assert claims["patient"] == "pat-1"
    assert "role" not in claims
    with pytest.raises(SystemExit) as exited:
        main(["token", "--sub", "app-1", "--scope", "user/Appointment.rs"])
    assert exited.value.code == 2
    assert "--role is required" in capsys.readouterr().err
