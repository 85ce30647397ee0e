"""An identity provider's JWKS endpoint, for real: served by uvicorn on a free local port,
in a thread and event loop of its own (as the provider runs apart from the API). The test
decides which keys it serves, with which answer, whether it answers at all yet (``hold``:
a provider that hangs until ``release``) and whether it runs at all (``stop``); ``hits``
counts the fetches, ``waiting`` those held right now, ``answered`` those answered. So a
test says "while the provider still holds the fetch" instead of measuring time."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.types import Receive, Scope, Send

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A key pair of the provider's: it signs tokens; its public half is a JWK."""

    kid: str
    alg: str
    private: PrivateKey

    @classmethod
    def rs256(cls, kid: str | None = None) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or f"rsa-{uuid.uuid4().hex[:8]}", "RS256", private)

    @classmethod
    def es256(cls, kid: str | None = None) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        return cls(kid or f"ec-{uuid.uuid4().hex[:8]}", "ES256", private)

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        """A token signed with this key; ``kid`` names another key in its header."""
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": kid or self.kid}
        )


class JwksServer:
    """``GET`` anything: ``{"keys": [...]}`` of ``keys`` with ``status``, once released;
    ``body`` (when set) answers instead of the key set."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys: list[SigningKey] = list(keys)
        self.extra: list[dict[str, Any]] = []  # JWKs served beside the keys
        self.status = 200
        self.body: bytes | None = None
        self.hits = 0  # fetches received
        self.waiting = 0  # fetches held right now
        self.answered = 0  # fetches answered
        self._released = threading.Event()
        self._released.set()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                interface="asgi3",
                lifespan="off",
                log_level="warning",
                access_log=False,
                loop="asyncio",
                http="h11",
                timeout_graceful_shutdown=0,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def start(self) -> JwksServer:
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            self._thread.join(0.01)
        raise RuntimeError("the JWKS server did not start")

    def hold(self) -> None:
        """Slow: every fetch from now on hangs, without an answer, until ``release``."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def holding(self, count: int = 1, within: float = 20.0) -> None:
        """Until ``count`` fetches are held here (``within``: a deadline against a hang).
        It awaits: the caller's event loop keeps running, if anything lets it."""
        deadline = time.monotonic() + within
        while self.waiting < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {within}s: {count} fetch(es) held")
            await asyncio.sleep(0.005)

    def stop(self) -> None:
        """Down: the port refuses connections from now on."""
        self.release()
        self._server.should_exit = True
        self._thread.join(5)
        self._socket.close()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.hits += 1
        self.waiting += 1
        try:
            # The test's thread opens the gate: a threading.Event, polled from this loop.
            while not self._released.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        finally:
            self.waiting -= 1
        body = self.body
        if body is None:
            body = json.dumps({"keys": [key.jwk() for key in self.keys] + self.extra}).encode()
        # Counted before the answer leaves: the client may read it, and the test look at
        # the count, before this thread runs another line after the last send.
        self.answered += 1
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
