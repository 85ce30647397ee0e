"""The local stack the benchmark measures: ``LocalService`` on free ports, in a data folder
that is a temporary one unless given, always stopped at the end (Ctrl-C and SIGTERM too)."""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from localstack.service import LIFTED_QUOTAS, LocalService, ServicePorts


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def running_stack(
    data_dir: Path | None, overrides: dict[str, object] | None = None, timeout: float = 120.0
) -> Iterator[LocalService]:
    """The started stack; stopped on the way out whatever happens. A temporary data folder
    (``data_dir`` None) is deleted afterwards; a given one is kept.

    The service runs with its defaults (a booking slower than ``booking_wait_seconds``
    answers 202 and counts as an error) unless ``overrides`` (settings by field name, as
    ``--set`` gives them) say otherwise; the per-caller quotas are lifted (every benchmark
    booking comes from one caller, for a handful of patients)."""
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    temporary = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="bench-")) if data_dir is None else data_dir
    folder.mkdir(parents=True, exist_ok=True)
    service = LocalService(folder, ServicePorts.free(), overrides=LIFTED_QUOTAS | (overrides or {}))
    try:
        service.start(timeout=timeout)
        try:
            yield service
        finally:
            # A second Ctrl-C while stopping must not leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                service.stop()
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
