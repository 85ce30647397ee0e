"""The relay's and the projector's liveness: the loop touches a file, the probe fails once
the touch is older than the limit, or there never was one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cli import main
from config import Settings, load_settings
from telemetry.heartbeat import Heartbeat, check_alive, heartbeat_age, heartbeat_file


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def settings_in(directory: Path) -> Settings:
    return load_settings(heartbeat_dir=directory, heartbeat_max_age_seconds=60)


def age_back(path: Path, seconds: float) -> None:
    """Make the last beat ``seconds`` old."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_fresh_beat_is_alive_and_an_old_or_missing_one_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_in(tmp_path / "beats")
    assert check_alive(settings, "relay") == 1
    assert "relay not alive: no heartbeat at" in capsys.readouterr().out

    Heartbeat.of(settings, "relay").beat()  # also makes the directory
    assert check_alive(settings, "relay") == 0
    assert capsys.readouterr().out.startswith("relay alive: last heartbeat ")

    age_back(heartbeat_file(settings, "relay"), 61)
    assert check_alive(settings, "relay") == 1
    assert "last heartbeat 61 s ago (limit 60 s)" in capsys.readouterr().out
    assert check_alive(settings, "relay", max_age=300) == 0  # a wider limit on the command
    assert check_alive(settings, "projector") == 1  # each process has its own file


def test_beats_are_throttled_to_one_write_per_interval(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "relay.alive"
    heartbeat = Heartbeat(path, every=5.0, clock=clock)
    heartbeat.beat()
    age_back(path, 100)
    clock.now += 4.0
    heartbeat.beat()  # too soon: the file keeps its old time
    assert (heartbeat_age(path) or 0) >= 100
    clock.now += 1.0
    heartbeat.beat()
    assert (heartbeat_age(path) or 100) < 100


def test_a_beat_that_cannot_be_written_never_raises_and_shows_as_dead(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = settings_in(blocker)  # the heartbeat directory would be a file
    Heartbeat.of(settings, "projector").beat()
    assert check_alive(settings, "projector") == 1


@pytest.mark.parametrize("process", ["relay", "projector"])
def test_the_alive_commands_exit_by_the_heartbeat(
    process: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPOINTMENTS_HEARTBEAT_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as missing:
        main([process, "alive"])
    assert missing.value.code == 1
    (tmp_path / f"{process}.alive").touch()
    with pytest.raises(SystemExit) as fresh:
        main([process, "alive", "--max-age", "30"])
    assert fresh.value.code == 0
    age_back(tmp_path / f"{process}.alive", 31)
    with pytest.raises(SystemExit) as old:
        main([process, "alive", "--max-age", "30"])
    assert old.value.code == 1
