"""Faults injected at run time, shared by the three simulators.

``PUT /_sim/faults`` sets a ``FaultConfig``; it then applies to every business route (never
to ``/_sim/*`` or ``/health``, so a test can always heal the simulator it broke)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, FastAPI, Request, Response

from peers.contracts import FaultConfig, FaultMode
from simulators.problems import Problem, install_problem_handlers


class FaultInjector:
    """The fault one simulator currently suffers, and how many more requests it lasts."""

    def __init__(self) -> None:
        self._config = FaultConfig()
        self._remaining: int | None = None

    @property
    def config(self) -> FaultConfig:
        return self._config.model_copy(update={"times": self._remaining})

    def set(self, config: FaultConfig) -> None:
        self._config = config
        self._remaining = config.times

    def reset(self) -> None:
        self.set(FaultConfig())

    def take(self, *, refusal: bool) -> FaultConfig | None:
        """The fault this request suffers, or None; counts it against ``times``.

        ``refusal=True`` asks only about REFUSE, ``False`` only about SLOW and FAIL, so a
        refusal armed for ``times=1`` is spent on the first request that can actually refuse,
        not on an unrelated GET that happens to come first. No await here: on one event loop
        concurrent requests cannot consume the same ``times`` twice."""
        config = self._config
        if config.mode is FaultMode.OK or (config.mode is FaultMode.REFUSE) != refusal:
            return None
        if self._remaining is not None:
            self._remaining -= 1
            if self._remaining <= 0:
                self.reset()
        return config


def _injector(request: Request) -> FaultInjector:
    return cast(FaultInjector, request.app.state.faults)


async def apply_faults(request: Request) -> None:
    """Router dependency of every business route: the SLOW and FAIL modes."""
    fault = _injector(request).take(refusal=False)
    if fault is None:
        return
    if fault.mode is FaultMode.SLOW:
        await asyncio.sleep(fault.delay_seconds)
    elif fault.mode is FaultMode.FAIL:
        raise Problem(503, "peer-unavailable", "Service unavailable", "injected fault")


RefusalCheck = Callable[[], bool]


async def refusal(request: Request) -> RefusalCheck:
    """Asks, when called, whether a REFUSE fault makes this request answer its business
    refusal. Lazy so that a refusal is only spent where it decides the answer: not on a
    request that fails validation first, nor on an idempotent replay, which answers what
    it answered before."""
    injector = _injector(request)
    return lambda: injector.take(refusal=True) is not None


Refusal = Annotated[RefusalCheck, Depends(refusal)]

ResetTransient = Callable[[], Awaitable[None]]


def create_simulator_app(title: str, reset_transient: ResetTransient) -> FastAPI:
    """The skeleton every simulator shares: problem documents, health and fault control."""
    app = FastAPI(title=title, version="sim")
    app.state.faults = FaultInjector()
    install_problem_handlers(app)

    @app.get("/health", tags=["simulator"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_sim/faults", tags=["simulator"])
    async def get_faults(request: Request) -> FaultConfig:
        return _injector(request).config

    @app.put("/_sim/faults", tags=["simulator"])
    async def put_faults(request: Request, config: FaultConfig) -> FaultConfig:
        _injector(request).set(config)
        return _injector(request).config

    @app.post("/_sim/reset", status_code=204, tags=["simulator"])
    async def reset(request: Request) -> Response:
        _injector(request).reset()
        await reset_transient()
        return Response(status_code=204)

    return app
