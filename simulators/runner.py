"""Serve the three simulators from one process: ``python -m simulators``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from loguru import logger
from pydantic import TypeAdapter

from peers.contracts import Doctor
from simulators.billing import create_billing_app
from simulators.doctor import create_doctor_app
from simulators.patient import create_patient_app
from simulators.seed_data import DOCTORS, PATIENTS
from simulators.state import SimulatorState

STATE_FILE_NAME = "simulators.json"
EXTRA_DOCTORS_FILE = "doctors.json"
_DOCTOR_LIST = TypeAdapter(list[Doctor])


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal handling.

    Each Server.serve() swaps in its own SIGINT/SIGTERM handler and, on exit, restores the
    previous one and re-raises the signal; three of them in one process chain into each
    other and end with the default handler killing the process mid-shutdown. ``main``
    handles signals once and cancels ``serve_simulators`` instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    """Binding here, not in uvicorn, turns "port in use" into a plain OSError for the
    caller; uvicorn would call sys.exit() from inside a task."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    # The explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets
    # whose proto says TCP, and without it every keep-alive request stalls ~40 ms on
    # Nagle's algorithm meeting delayed ACKs (socket.create_server leaves proto at 0).
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def extra_doctors(state_dir: Path | None) -> list[Doctor]:
    """Doctors of your own besides the seed's: a JSON list of the Doctor Service's
    doctors (peers.contracts.Doctor) in ``<state dir>/doctors.json``, if it exists. A
    doctor with the id of a seeded one replaces it."""
    path = state_dir / EXTRA_DOCTORS_FILE if state_dir is not None else None
    if path is None or not path.exists():
        return []
    return _DOCTOR_LIST.validate_json(path.read_bytes())


async def serve_simulators(
    host: str,
    patient_port: int,
    doctor_port: int,
    billing_port: int,
    state_dir: Path | None,
) -> None:
    """Run the Patient, Doctor and Billing simulators until cancelled, then shut them
    down gracefully. With ``state_dir`` holds and invoices survive a restart."""
    state_file = state_dir / STATE_FILE_NAME if state_dir is not None else None
    state = SimulatorState((*DOCTORS, *extra_doctors(state_dir)), PATIENTS, state_file=state_file)
    apps: list[tuple[str, FastAPI, int]] = [
        ("patient", create_patient_app(state), patient_port),
        ("doctor", create_doctor_app(state), doctor_port),
        ("billing", create_billing_app(state), billing_port),
    ]
    sockets: list[socket.socket] = []
    try:
        for _, _, port in apps:
            sockets.append(_bind(host, port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    servers = [
        _Server(
            uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=1,
            )
        )
        for _, app, _ in apps
    ]
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]), name=f"simulator-{name}")
        for server, sock, (name, _, _) in zip(servers, sockets, apps, strict=True)
    ]
    for (name, _, _), sock in zip(apps, sockets, strict=True):
        bound_host, bound_port = sock.getsockname()[:2]
        logger.info("{} simulator on http://{}:{}", name, bound_host, bound_port)
    try:
        # asyncio.wait, unlike gather, does not cancel the servers when we are cancelled:
        # they get should_exit and finish their in-flight requests.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for sock in sockets:
            sock.close()
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _serve_until_signal(args: argparse.Namespace) -> None:
    task = asyncio.create_task(
        serve_simulators(
            args.host, args.patient_port, args.doctor_port, args.billing_port, args.state_dir
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    logger.info("simulators stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Serve the Patient, Doctor and Billing simulators.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--patient-port", type=int, default=8101)
    parser.add_argument("--doctor-port", type=int, default=8102)
    parser.add_argument("--billing-port", type=int, default=8103)
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="keep holds and invoices in this folder"
    )
    asyncio.run(_serve_until_signal(parser.parse_args(argv)))
