"""Run local servers as child processes that are always cleaned up.

Each server gets its own process group (``start_new_session=True``): a stop signals the
server *and* anything it spawned, and a Ctrl-C in the terminal reaches only the parent,
which then stops its children in order. The API is synchronous because it runs from the
CLI, from ``atexit`` (no event loop there) and from async fixtures alike; readiness
checks may still be coroutines (see ``_run_awaitable``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from loguru import logger

from localstack.ports import listens_on, port_open

# A readiness check returns True once the server is usable. Returning False or raising
# both mean "not yet"; the last exception is quoted if the wait times out.
ReadyCheck = Callable[[], bool | Awaitable[bool]]

_POLL_SECONDS = 0.1
# One check may not hang longer than this, so an early exit is still noticed soon.
_CHECK_TIMEOUT_SECONDS = 5.0
_TAIL_LINES = 40


class ProcessStartError(RuntimeError):
    """A managed process did not become ready; ``log_tail`` holds its last output."""

    def __init__(self, message: str, *, name: str, log_tail: str) -> None:
        super().__init__(f"{message}\n--- last lines of the {name} log ---\n{log_tail}")
        self.name = name
        self.log_tail = log_tail


class ProcessExitedError(ProcessStartError):
    """The process exited while we were waiting for it to become ready."""


class ReadinessTimeoutError(ProcessStartError):
    """The process kept running but never passed its readiness check in time."""


def _run_awaitable(awaitable: Awaitable[bool], timeout: float) -> bool:
    # A fresh loop in a fresh thread: ``asyncio.run`` is forbidden inside a running loop,
    # and the caller may be an async fixture. ``wait_for`` bounds a hanging connect.
    async def bounded() -> bool:
        return await asyncio.wait_for(awaitable, timeout)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ready-check") as pool:
        return pool.submit(asyncio.run, bounded()).result()


class ManagedProcess:
    """One server process: started in its own group, logged to ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        ready: ReadyCheck | int | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        host: str = "127.0.0.1",
        ready_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.log_path = Path(log_dir) / f"{name}.log"
        self.env = dict(env or {})
        self.cwd = cwd
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        # ``port``: the process must itself listen there before any other check counts.
        # ``ready`` given as a port means just that.
        self.port = ready if isinstance(ready, int) else port
        self._ready: ReadyCheck | None = None if isinstance(ready, int) else ready
        self._host = host
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._terminated = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> None:
        """Launch the process; returns at once (see ``wait_ready``)."""
        if self.is_running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Remember where this run's output begins so errors quote only this run.
            self._log_offset = log.tell()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"=== {stamp} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            # Children inherit the parent's environment (PATH, HOME, ...); the process
            # launcher is the one place where that is the point.
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,
            )
        self._terminated = False
        # Per instance, not a module-level registry: see ``Supervisor``.
        atexit.register(self.stop)
        logger.debug("started {} pid={} log={}", self.name, self._proc.pid, self.log_path)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll the readiness check; fail fast, with the log tail, if the process exits.

        On a timeout the process keeps running: whoever started it stops it (the
        ``with`` block and ``Supervisor.start`` do).
        """
        proc = self._proc
        if proc is None:
            raise RuntimeError(f"{self.name} was never started")
        timeout = self.ready_timeout if timeout is None else timeout
        started = time.monotonic()
        deadline = started + timeout
        last_error: BaseException | None = None
        while True:
            if proc.poll() is not None:
                raise ProcessExitedError(
                    f"{self.name} exited with code {proc.returncode} before it was ready",
                    name=self.name,
                    log_tail=self.log_tail(),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = f" (last check error: {last_error!r})" if last_error else ""
                raise ReadinessTimeoutError(
                    f"{self.name} was not ready after {timeout}s{reason}",
                    name=self.name,
                    log_tail=self.log_tail(),
                )
            try:
                if self._check(proc.pid, min(remaining, _CHECK_TIMEOUT_SECONDS)):
                    elapsed = time.monotonic() - started
                    logger.info("{} ready in {:.2f}s (pid {})", self.name, elapsed, proc.pid)
                    return
            except Exception as exc:  # any failure of the check means "not ready yet"
                last_error = exc
            time.sleep(_POLL_SECONDS)

    def _check(self, pid: int, timeout: float) -> bool:
        if self.port is not None and not listens_on(pid, self.port):
            return False
        if self._ready is None:
            return self.port is None or port_open(self._host, self.port)
        result = self._ready()
        if inspect.isawaitable(result):
            return _run_awaitable(result, timeout)
        return bool(result)

    def terminate(self) -> None:
        """Send SIGTERM to the group once, without waiting (lets a caller stop many at once)."""
        if self.is_running and not self._terminated:
            self._signal_group(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM the group, wait up to ``timeout`` seconds, then SIGKILL. Idempotent."""
        atexit.unregister(self.stop)
        proc = self._proc
        if proc is None or proc.poll() is not None:
            # Never signal a group whose leader was reaped earlier: its id may be reused.
            return
        self.terminate()
        try:
            proc.wait(self.stop_timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            logger.warning("{} ignored SIGTERM; killing it", self.name)
            self._signal_group(signal.SIGKILL)
            proc.wait()
        # The leader just exited; anything it left behind in its group goes too.
        self._signal_group(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole group at once, like a crash (no graceful shutdown)."""
        atexit.unregister(self.stop)
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self._signal_group(signal.SIGKILL)
        proc.wait()

    def restart(self, timeout: float | None = None) -> None:
        self.stop()
        self.start()
        self.wait_ready(timeout)

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        """The last ``lines`` lines this run wrote to its log."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError as exc:
            return f"<log unreadable: {exc}>"
        return "\n".join(text.splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        # The group id equals the leader's pid because of start_new_session=True.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Supervisor:
    """Starts processes in order and stops them in reverse order, all or nothing.

    The exit-time cleanup lives in each ``ManagedProcess`` (its own ``atexit`` hook,
    removed when it stops) rather than here, so a process started without a supervisor
    is covered too; atexit runs hooks last-in first-out, which is reverse start order.
    Not covered: the parent dying by SIGKILL or by an unhandled SIGTERM.
    """

    def __init__(self, processes: Iterable[ManagedProcess] = ()) -> None:
        self._processes: list[ManagedProcess] = list(processes)

    @property
    def processes(self) -> tuple[ManagedProcess, ...]:
        return tuple(self._processes)

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self._processes.append(process)
        return process

    def start(self, *, timeout: float = 60.0, concurrently: bool = False) -> None:
        """Start every process; if any fails, stop those already started and re-raise.

        ``concurrently`` launches all before waiting for any: for independent servers,
        so the total start time is the slowest one, not the sum.
        """
        try:
            if concurrently:
                deadline = time.monotonic() + timeout
                for process in self._processes:
                    process.start()
                for process in self._processes:
                    process.wait_ready(max(deadline - time.monotonic(), _POLL_SECONDS))
            else:
                for process in self._processes:
                    process.start()
                    process.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, *, concurrently: bool = False) -> None:
        """Stop in reverse start order; every process is attempted even if one fails.

        ``concurrently`` sends all SIGTERMs first, so slow shutdowns overlap.
        """
        ordered = list(reversed(self._processes))
        if concurrently:
            for process in ordered:
                process.terminate()
        errors: list[Exception] = []
        for process in ordered:
            try:
                process.stop()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise ExceptionGroup("stopping the local processes failed", errors)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
