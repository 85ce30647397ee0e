"""TCP port helpers for the local stack: pick a free port, probe one, and tell whether a
given process is the one listening on it."""

from __future__ import annotations

import contextlib
import os
import random
import socket
from pathlib import Path

# Where ports are picked when the kernel's ephemeral range is known: below it.
_LOWEST = 10_000
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _below_the_ephemeral_range() -> tuple[int, int] | None:
    """The ports between ``_LOWEST`` and the kernel's ephemeral range (Linux), if any."""
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return (_LOWEST, low - 1) if low - 1 > _LOWEST + 1000 else None


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (another process may still take it before it is used).

    Picked below the kernel's ephemeral range where it can: the ports the kernel hands
    out by itself (a server's internal listeners on port 0, such as the Temporal dev
    server's, and every outgoing connection) never land there, so between this pick and
    the server's bind only another process picking on purpose could take it. Stacks
    started side by side (``make test`` runs three jobs) met exactly that race."""
    span = _below_the_ephemeral_range()
    if span is not None:
        for _ in range(200):
            port = random.randint(*span)  # noqa: S311 - spreading picks, not a secret
            if _bindable(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a listening TCP socket on ``port`` (Linux).

    An open port is not proof that *our* server is up: on a shared machine another
    process may hold it (the free-port race), and a check would then talk to that one.
    Where ``/proc`` is missing this cannot tell and says yes.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return True
    inodes: set[str] = set()
    for table in tables:
        with contextlib.suppress(OSError):
            for row in table.read_text().splitlines()[1:]:
                cols = row.split()
                # local_address is HEXIP:HEXPORT; state 0A is LISTEN; column 9 the inode.
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":
                    inodes.add(f"socket:[{cols[9]}]")
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    return False
