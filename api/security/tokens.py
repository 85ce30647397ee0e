"""Bearer JWTs with PyJWT: issuing (the local stack's ``token`` command) and verifying
(every request). Verification is strict: an explicit algorithm allowlist, and ``exp``,
``iss``, ``aud`` and ``sub`` required."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import jwt

from application.permissions import Principal, Role
from config import Settings

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"})
SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})


class InvalidToken(Exception):
    """Missing, malformed, expired or untrusted credentials (HTTP 401)."""


class KeySource(Protocol):
    def key_for(self, token: str) -> Any: ...


@dataclass(frozen=True)
class SharedSecret:
    secret: bytes

    def key_for(self, token: str) -> Any:
        return self.secret


class Jwks:
    """Production: public keys from the identity provider's JWKS URL (cached by PyJWT)."""

    def __init__(self, url: str) -> None:
        self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300)

    def key_for(self, token: str) -> Any:
        return self._client.get_signing_key_from_jwt(token).key


def ensure_local_secret(path: Path) -> bytes:
    """The local stack's HS256 secret: generated on first run, kept (0600) in the data
    folder so tokens stay valid across restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


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
            keys = Jwks(settings.jwt_jwks_url)
        else:
            keys = SharedSecret(settings.jwt_secret_path.read_text().strip().encode())
        return cls(
            keys,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise InvalidToken("token algorithm not allowed")
            claims = jwt.decode(
                token,
                self._keys.key_for(token),
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
        subject, role = claims.get("sub"), claims.get("role")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token has no subject")
        try:
            return Principal(subject=subject, role=Role(str(role)))
        except ValueError:
            raise InvalidToken("token has no known role") from None


def issue_local_token(settings: Settings, role: Role, subject: str, ttl_minutes: int = 60) -> str:
    """A token for the local stack, signed with its secret (never used in production)."""
    secret = ensure_local_secret(settings.jwt_secret_path)
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "role": role.value,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=ttl_minutes),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
