"""Bearer JWTs with PyJWT: issuing (the local stack's ``token`` command) and verifying
(every request). Verification is strict: an explicit algorithm allowlist, and ``exp``,
``iss``, ``aud`` and ``sub`` required. It is async: a JWKS key lookup awaits the identity
provider without ever blocking the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from loguru import logger

from application.permissions import Principal, Role, smart_grants
from config import Settings

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"})
SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})

# A JWKS document is a few keys; anything larger is not one.
MAX_JWKS_BYTES = 1024 * 1024


class InvalidToken(Exception):
    """Missing, malformed, expired or untrusted credentials (HTTP 401)."""


class LocalTokensRefused(RuntimeError):
    """The local HS256 secret and the tokens signed with it, asked for in production."""


class KeySource(Protocol):
    async def key_for(self, header: Mapping[str, Any]) -> Any:
        """The key that verifies a token with this (unverified) header."""
        ...


@dataclass(frozen=True)
class SharedSecret:
    secret: bytes

    async def key_for(self, header: Mapping[str, Any]) -> Any:
        return self.secret


class Jwks:
    """Production: the identity provider's public keys, from its JWKS URL.

    The key set is fetched with httpx (async, ``timeout_seconds`` for the whole fetch) and
    kept for ``cache_seconds``. Once it is older, the next request starts a refresh in the
    background and is verified with the set in hand. A ``kid`` the set does not know waits
    for a refresh, but fetches happen at most once per ``min_refresh_seconds``, so a stream
    of tokens with made-up kids costs the provider one request per interval and every
    other caller a dictionary look-up. Concurrent callers share the refresh in flight. A
    failed fetch keeps the last good set; a good one replaces it, so a key removed from the
    provider's set stops verifying."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 3.0,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._timeout = timeout_seconds
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._transport = transport
        self._clock = clock
        self._keys: dict[str, Any] = {}  # kid -> public key, of the last good fetch
        self._fetched_at: float | None = None  # the last good fetch
        self._tried_at: float | None = None  # the last fetch started, good or not
        self._refresh: asyncio.Task[None] | None = None

    @property
    def kids(self) -> frozenset[str]:
        """The key ids trusted now."""
        return frozenset(self._keys)

    async def key_for(self, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no kid")
        if self._fetched_at is not None and self._clock() - self._fetched_at >= self._cache_seconds:
            self._refreshing()  # in the background: the set in hand serves meanwhile
        key = self._keys.get(kid)
        if key is None:
            refresh = self._refreshing()
            if refresh is not None:
                # shielded: a caller that gives up does not cancel the others' refresh
                await asyncio.shield(refresh)
                key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("no JWKS key for the token's kid")
        return key

    async def refreshed(self) -> None:
        """Wait for the refresh in flight, if any (tests, and a clean shutdown)."""
        refresh = self._refresh
        if refresh is not None and not refresh.done():
            await asyncio.shield(refresh)

    async def aclose(self) -> None:
        refresh, self._refresh = self._refresh, None
        if refresh is not None and not refresh.done():
            refresh.cancel()
            await asyncio.gather(refresh, return_exceptions=True)

    def _refreshing(self) -> asyncio.Task[None] | None:
        """The refresh in flight, else a new one unless the last started too recently."""
        loop = asyncio.get_running_loop()
        refresh = self._refresh
        if refresh is not None and not refresh.done() and refresh.get_loop() is loop:
            return refresh
        now = self._clock()
        if self._tried_at is not None and now - self._tried_at < self._min_refresh:
            return None
        self._tried_at = now
        self._refresh = loop.create_task(self._fetch(), name="jwks-refresh")
        return self._refresh

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                document = await self._download()
            keys = _signing_keys(document)
        except Exception as error:  # whatever went wrong, the set in hand stays
            logger.bind(url=self.url).warning(
                "JWKS refresh failed ({}): keeping the {} key(s) in hand",
                type(error).__name__,
                len(self._keys),
            )
            return
        dropped = set(self._keys) - set(keys)
        if dropped:
            logger.bind(url=self.url).info("JWKS keys no longer trusted: {}", sorted(dropped))
        self._keys = keys
        self._fetched_at = self._clock()

    async def _download(self) -> Any:
        async with (
            httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, follow_redirects=False
            ) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as answer,
        ):
            answer.raise_for_status()
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWKS document over {MAX_JWKS_BYTES} bytes")
        return json.loads(bytes(body))


def _signing_keys(document: Any) -> dict[str, Any]:
    """The public signing keys of a JWKS document by kid: keys for ``sig`` (or no use
    given) with a kid; symmetric (``oct``) keys never."""
    if not isinstance(document, dict):
        raise ValueError("a JWKS document is a JSON object")
    keys: dict[str, Any] = {}
    for jwk in jwt.PyJWKSet.from_dict(document).keys:
        if jwk.key_id and jwk.public_key_use in ("sig", None) and jwk.key_type != "oct":
            keys[jwk.key_id] = jwk.key
    if not keys:
        raise ValueError("the JWKS document holds no signing key with a kid")
    return keys


def ensure_local_secret(path: Path) -> bytes:
    """The local stack's HS256 secret: generated on first run, kept (0600) in the data
    folder so tokens stay valid across restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _refuse_in_production(settings: Settings) -> None:
    if settings.environment == "production":
        raise LocalTokensRefused(
            "production trusts the identity provider's tokens only: the local signing "
            "secret and the tokens signed with it are refused (APPOINTMENTS_ENVIRONMENT)"
        )


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        algorithms: list[str],
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
    ) -> None:
        if not algorithms:
            raise ValueError("at least one JWT algorithm must be allowed")
        unknown = set(algorithms) - ASYMMETRIC - SYMMETRIC
        if unknown:
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown)}")
        if isinstance(keys, Jwks) and set(algorithms) & SYMMETRIC:
            # With public keys, allowing HS* would let anyone sign with the public key.
            raise ValueError("a JWKS verifier allows asymmetric algorithms only")
        self._keys = keys
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        keys: KeySource
        if settings.jwt_jwks_url:
            keys = Jwks(
                settings.jwt_jwks_url,
                timeout_seconds=settings.jwt_jwks_timeout_seconds,
                cache_seconds=settings.jwt_jwks_cache_seconds,
                min_refresh_seconds=settings.jwt_jwks_min_refresh_seconds,
            )
        else:
            _refuse_in_production(settings)  # Settings refuse it too: never a fallback
            keys = SharedSecret(settings.jwt_secret_path.read_text().strip().encode())
        return cls(
            keys,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise InvalidToken("token algorithm not allowed")
            claims = jwt.decode(
                token,
                await self._keys.key_for(header),
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(type(error).__name__) from None
        return principal_of(claims)

    async def aclose(self) -> None:
        """Stop a key refresh still in flight (the app's shutdown)."""
        if isinstance(self._keys, Jwks):
            await self._keys.aclose()


def principal_of(claims: Mapping[str, Any]) -> Principal:
    """The caller of verified ``claims``: ``sub`` and ``role``, and the SMART on FHIR
    ``scope`` claim (space-separated, or a list) if it holds a SMART resource scope,
    which then narrows what the role may (application/permissions.py). A token with
    ``patient/`` scopes and no role is a patient's: the SMART launch context's
    ``patient`` claim, else ``sub``, is the patient id. Any other token without a known
    role is refused."""
    subject, role, scope = claims.get("sub"), claims.get("role"), claims.get("scope")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    scopes: frozenset[str] | None = None
    if scope is not None:
        if isinstance(scope, str):
            scopes = frozenset(scope.split())
        elif isinstance(scope, list) and all(isinstance(s, str) for s in scope):
            scopes = frozenset(scope)
        else:
            raise InvalidToken("token's scope claim is neither a string nor a list of them")
    if scopes is not None and not any(smart_grants(s) for s in scopes):
        # Only identity scopes (openid, profile, fhirUser, ...), as identity providers put
        # in every token: no SMART resource scope narrows the role, so the role decides.
        scopes = None
    if role is None and scopes and any(s.startswith("patient/") for s in scopes):
        patient = claims.get("patient")
        if patient is not None and (not isinstance(patient, str) or not patient):
            raise InvalidToken("token's patient claim is not an id")
        return Principal(subject=patient or subject, role=Role.PATIENT, scopes=scopes)
    try:
        return Principal(subject=subject, role=Role(str(role)), scopes=scopes)
    except ValueError:
        raise InvalidToken("token has no known role") from None


def issue_local_token(
    settings: Settings,
    role: Role | None,
    subject: str,
    ttl_minutes: int = 60,
    *,
    scope: str | None = None,
    patient: str | None = None,
) -> str:
    """A token for the local stack, signed with its secret; refused in production.
    ``scope``: SMART scopes, space-separated; ``patient``: the SMART launch context's
    patient (a token with ``patient/`` scopes and no role is that patient's)."""
    _refuse_in_production(settings)
    secret = ensure_local_secret(settings.jwt_secret_path)
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=ttl_minutes),
        "jti": uuid.uuid4().hex,
    }
    extra = {"role": role.value if role else None, "scope": scope, "patient": patient}
    claims |= {name: value for name, value in extra.items() if value is not None}
    return jwt.encode(claims, secret, algorithm="HS256")
