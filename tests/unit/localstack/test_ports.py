"""Free ports for the local stack are picked where the kernel never hands out ports by
itself, so a server's own port-0 listeners and outgoing connections cannot take them
between the pick and the bind (a simulator once lost its port to such a race)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from localstack import ports


def ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


@pytest.mark.skipif(
    not Path("/proc/sys/net/ipv4/ip_local_port_range").exists(), reason="Linux only"
)
def test_a_port_is_picked_below_the_ephemeral_range_and_can_be_bound() -> None:
    picked = {ports.free_port() for _ in range(20)}
    assert all(ports._LOWEST <= port < ephemeral_low() for port in picked)
    assert len(picked) > 1, "spread over the range, not the same port each time"
    for port in picked:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        # A range of that one port: it is never answered; the kernel then picks.
        monkeypatch.setattr(ports, "_below_the_ephemeral_range", lambda: (taken, taken))
        assert ports.free_port() != taken


def test_without_the_kernels_range_the_kernel_picks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ports, "_EPHEMERAL", tmp_path / "missing")
    assert ports._below_the_ephemeral_range() is None
    port = ports.free_port()
    assert ports._bindable("127.0.0.1", port)
