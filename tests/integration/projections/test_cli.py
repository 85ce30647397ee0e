"""The projector as the process it runs as: ``python -m cli projector`` follows the
event store and exits 0 on SIGTERM with its checkpoint saved; ``python -m cli projector
rebuild`` rebuilds the view and says how many rows, events and seconds. The peers are
the real simulators, as a process on free ports."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from localstack.ports import free_port
from localstack.processes import ManagedProcess
from projections.read_view import READ_VIEW
from tests.integration.projections.conftest import Bed

NINE = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("simulators")
    ports = {"patient": free_port(), "doctor": free_port(), "billing": free_port()}
    urls = {peer: f"http://127.0.0.1:{port}" for peer, port in ports.items()}

    def ready() -> bool:
        try:
            return all(httpx.get(f"{url}/health").status_code == 200 for url in urls.values())
        except httpx.HTTPError:
            return False

    argv = [sys.executable, "-m", "simulators", "--state-dir", str(data)]
    for peer, port in ports.items():
        argv += [f"--{peer}-port", str(port)]
    with ManagedProcess("simulators", argv, log_dir=data, ready=ready):
        yield urls


def environment(bed: Bed, simulators: dict[str, str]) -> dict[str, str]:
    return {
        "APPOINTMENTS_MONGO_URI": bed.settings.mongo_uri,
        "APPOINTMENTS_MONGO_DATABASE": bed.settings.mongo_database,
        "APPOINTMENTS_PATIENT_SERVICE_URL": simulators["patient"],
        "APPOINTMENTS_DOCTOR_SERVICE_URL": simulators["doctor"],
    }


async def test_the_process_follows_and_stops_gracefully_on_sigterm(
    bed: Bed, simulators: dict[str, str], tmp_path: Path
) -> None:
    env = environment(bed, simulators)
    projector = ManagedProcess(
        "projector", [sys.executable, "-m", "cli", "projector"], log_dir=tmp_path, env=env
    )
    projector.start()
    try:
        booked = [await bed.book(NINE + timedelta(minutes=15 * n)) for n in range(3)]
        rows = await bed.caught_up(within=30)
        assert rows[booked[0].id]["patient_name"] == "Anna Schmidt"
        projector.terminate()
        await asyncio.to_thread(projector.stop)
        assert projector.returncode == 0, projector.log_tail()
    finally:
        projector.stop()
    assert await bed.view_store().checkpoint() is not None
    assert "projector following the event store" in projector.log_tail()


async def test_the_rebuild_command_reports_what_it_did(
    bed: Bed, simulators: dict[str, str]
) -> None:
    for n in range(4):
        await bed.book(NINE + timedelta(minutes=15 * n))
    await bed.projection().catch_up(asyncio.Event())
    before = await bed.rows()
    await bed.database[READ_VIEW].update_many({}, {"$set": {"status": "garbage"}})

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "projector", "rebuild"],
        env={**os.environ, **environment(bed, simulators)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"rebuilt {READ_VIEW}: 4 rows from 8 events in " in done.stdout
    assert await bed.rows() == before


async def test_a_following_projector_beats_and_projector_alive_says_so(
    bed: Bed, simulators: dict[str, str], tmp_path: Path
) -> None:
    env = {**environment(bed, simulators), "APPOINTMENTS_HEARTBEAT_DIR": str(tmp_path / "hb")}

    def alive() -> int:
        return subprocess.run(
            [sys.executable, "-m", "cli", "projector", "alive"],
            env={**os.environ, **env},
            capture_output=True,
            timeout=60,
            check=False,
        ).returncode

    assert await asyncio.to_thread(alive) == 1  # no heartbeat yet
    projector = ManagedProcess(
        "projector", [sys.executable, "-m", "cli", "projector"], log_dir=tmp_path, env=env
    )
    projector.start()
    try:
        await bed.book(NINE)
        await bed.caught_up(within=30)
        assert await asyncio.to_thread(alive) == 0
    finally:
        projector.stop()


def run_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``argv`` with its stderr on a pseudo-terminal (stdout a pipe); the exit code,
    stdout, and what the terminal showed."""
    terminal, its_end = pty.openpty()
    try:
        done = subprocess.run(
            argv, env=env, stdout=subprocess.PIPE, stderr=its_end, timeout=120, check=False
        )
    finally:
        os.close(its_end)
    shown = b""
    try:
        while chunk := os.read(terminal, 65536):
            shown += chunk
    except OSError:  # EIO: the terminal's other end is closed and everything was read
        pass
    finally:
        os.close(terminal)
    return done.returncode, done.stdout.decode(), shown.decode(errors="replace")


async def test_the_rebuild_draws_its_progress_on_a_terminal_and_only_there(
    bed: Bed, simulators: dict[str, str]
) -> None:
    for n in range(3):
        await bed.book(NINE + timedelta(minutes=15 * n))  # 2 events each
    argv = [sys.executable, "-m", "cli", "projector", "rebuild"]
    env = {**os.environ, **environment(bed, simulators)}

    code, out, shown = await asyncio.to_thread(run_on_a_terminal, argv, env)
    assert code == 0, shown
    assert "\rrebuild  6/6 events  100%  " in shown
    assert "events/s" not in shown  # the summary goes to stdout, the line to the terminal
    assert f"rebuilt {READ_VIEW}: 3 rows from 6 events" in out

    piped = await asyncio.to_thread(
        subprocess.run, argv, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr
    assert "rebuild  " not in piped.stderr
