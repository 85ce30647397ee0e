"""Bearer JWT verification: the local HS256 path, the JWKS (RS256) path against a local
JWKS endpoint (tests/jwks_server.py; its cache: test_jwks.py), and the tokens that must be
refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.security.tokens import (
    SYMMETRIC,
    InvalidToken,
    Jwks,
    SharedSecret,
    TokenVerifier,
    ensure_local_secret,
    issue_local_token,
)
from application.permissions import Principal, Role
from config import Settings, load_settings
from tests.jwks_server import JwksServer, SigningKey

ISSUER = "appointment-service-test"
AUDIENCE = "appointment-service"
LEEWAY = 30
JWKS_URL = "https://idp.invalid/.well-known/jwks.json"
KID = "rsa-test"
OTHER_SECRET = b"another-secret-that-is-long-enough-for-hs256-0123456789"

TokenFactory = Callable[[bytes], str]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for a patient; a change to ``None`` removes the claim."""
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "p-1",
        "role": "patient",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def hs256(secret: bytes, **changes: Any) -> str:
    return jwt.encode(claims(**changes), secret, algorithm="HS256")


def signing_input(alg: str, **changes: Any) -> str:
    """Header and payload segments of a hand-made token, its times as NumericDates."""
    payload = {
        name: int(value.timestamp()) if isinstance(value, datetime) else value
        for name, value in claims(**changes).items()
    }
    return f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(payload)}"


def unsigned(alg: str) -> str:
    """``alg: none`` by hand: header, payload and an empty signature."""
    return signing_input(alg, role="admin") + "."


def tampered(secret: bytes) -> str:
    header, payload, signature = hs256(secret).split(".")
    padded = payload + "=" * (-len(payload) % 4)
    body = json.loads(base64.urlsafe_b64decode(padded))
    body["role"] = "admin"
    return f"{header}.{b64url_json(body)}.{signature}"


def ago(seconds: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        jwt_secret_file=tmp_path / "keys" / "jwt-secret",
        jwt_jwks_url=None,
        jwt_algorithms=["HS256"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_leeway_seconds=LEEWAY,
    )


@pytest.fixture
def secret(settings: Settings) -> bytes:
    return ensure_local_secret(settings.jwt_secret_path)


@pytest.fixture
def verifier(settings: Settings, secret: bytes) -> TokenVerifier:
    return TokenVerifier.from_settings(settings)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def idp(rsa_key: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    """The identity provider's JWKS endpoint, serving our public key as ``KID``."""
    server = JwksServer(SigningKey(KID, "RS256", rsa_key)).start()
    yield server
    server.stop()


@pytest.fixture
def jwks_verifier(idp: JwksServer) -> TokenVerifier:
    """A JWKS-mode verifier of the keys ``idp`` serves."""
    return TokenVerifier(Jwks(idp.url), algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE)


def signed(key: rsa.RSAPrivateKey, alg: str = "RS256", **changes: Any) -> str:
    """A token signed with ``key``, its header naming the key the provider serves."""
    return jwt.encode(claims(**changes), key, algorithm=alg, headers={"kid": KID})


# --- the local HS256 path ------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
async def test_local_token_verifies_to_its_principal(
    settings: Settings, verifier: TokenVerifier, role: Role
) -> None:
    token = issue_local_token(settings, role, "u-42")
    assert await verifier.verify(token) == Principal(subject="u-42", role=role)


async def test_issue_local_token_creates_the_secret_it_signs_with(settings: Settings) -> None:
    assert not settings.jwt_secret_path.exists()
    token = issue_local_token(settings, Role.DOCTOR, "d-7")
    verifier = TokenVerifier.from_settings(settings)
    assert await verifier.verify(token) == Principal(subject="d-7", role=Role.DOCTOR)


async def test_hand_signed_token_passes(verifier: TokenVerifier, secret: bytes) -> None:
    # The baseline for the refusals below: only the named defect differs.
    assert await verifier.verify(hs256(secret)) == Principal(subject="p-1", role=Role.PATIENT)


@pytest.mark.parametrize(
    "changes",
    [
        # seconds ago, taken when the test runs: a time computed at collection would age
        # with the suite and leave the leeway
        pytest.param({"exp": LEEWAY // 2}, id="expired-within-leeway"),
        pytest.param({"nbf": -LEEWAY // 2}, id="not-yet-valid-within-leeway"),
    ],
)
async def test_clock_skew_within_leeway_is_tolerated(
    verifier: TokenVerifier, secret: bytes, changes: dict[str, int]
) -> None:
    claims_at = {claim: ago(seconds) for claim, seconds in changes.items()}
    assert (await verifier.verify(hs256(secret, **claims_at))).subject == "p-1"


REFUSED: list[Any] = [
    pytest.param(lambda s: unsigned("none"), "algorithm not allowed", id="alg-none-by-hand"),
    pytest.param(lambda s: unsigned("None"), "algorithm not allowed", id="alg-None-by-hand"),
    pytest.param(lambda s: unsigned("NONE"), "algorithm not allowed", id="alg-NONE-by-hand"),
    pytest.param(
        lambda s: jwt.encode(claims(role="admin"), "", algorithm="none"),
        "algorithm not allowed",
        id="alg-none-pyjwt",
    ),
    pytest.param(
        lambda s: jwt.encode(claims(), s, algorithm="HS512"),
        "algorithm not allowed",
        id="alg-not-allowed",
    ),
    pytest.param(lambda s: hs256(s, exp=ago(2 * LEEWAY)), "ExpiredSignature", id="expired"),
    pytest.param(lambda s: hs256(s, nbf=ago(-2 * LEEWAY)), "ImmatureSignature", id="not-yet-valid"),
    pytest.param(lambda s: hs256(s, aud="another-service"), "InvalidAudience", id="wrong-aud"),
    pytest.param(lambda s: hs256(s, iss="someone-else"), "InvalidIssuer", id="wrong-iss"),
    pytest.param(lambda s: hs256(s, aud=None), "MissingRequiredClaim", id="missing-aud"),
    pytest.param(lambda s: hs256(s, iss=None), "MissingRequiredClaim", id="missing-iss"),
    pytest.param(lambda s: hs256(s, exp=None), "MissingRequiredClaim", id="missing-exp"),
    pytest.param(lambda s: hs256(s, sub=None), "MissingRequiredClaim", id="missing-sub"),
    pytest.param(lambda s: hs256(s, sub=""), "no subject", id="empty-sub"),
    pytest.param(lambda s: hs256(s, sub=42), "InvalidSubject", id="numeric-sub"),
    pytest.param(lambda s: hs256(s, role="superuser"), "no known role", id="unknown-role"),
    pytest.param(lambda s: hs256(s, role="Admin"), "no known role", id="role-wrong-case"),
    pytest.param(lambda s: hs256(s, role=None), "no known role", id="missing-role"),
    pytest.param(tampered, "InvalidSignature", id="tampered-payload"),
    pytest.param(lambda s: hs256(OTHER_SECRET), "InvalidSignature", id="other-secret"),
    pytest.param(lambda s: hs256(s)[:-4] + "AAAA", "InvalidSignature", id="bad-signature"),
    pytest.param(lambda s: "not-a-jwt", "DecodeError", id="garbage"),
    pytest.param(lambda s: "a.b.c", "DecodeError", id="garbage-segments"),
    pytest.param(lambda s: "", "DecodeError", id="empty"),
]


@pytest.mark.parametrize(("make_token", "reason"), REFUSED)
async def test_refused_tokens(
    verifier: TokenVerifier, secret: bytes, make_token: TokenFactory, reason: str
) -> None:
    # The reason is pinned so a token is refused for its defect, not by accident.
    with pytest.raises(InvalidToken, match=reason):
        await verifier.verify(make_token(secret))


# --- the JWKS path (RS256) -----------------------------------------------------------


async def test_jwks_rs256_token_passes(
    jwks_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = signed(rsa_key, sub="d-3", role="doctor")
    assert await jwks_verifier.verify(token) == Principal(subject="d-3", role=Role.DOCTOR)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def hs256_with_public_key(key: rsa.RSAPrivateKey) -> str:
    """The key-confusion forgery: HS256 with the (public) PEM as the HMAC secret. PyJWT
    refuses to sign that way, so it is signed by hand."""
    unsigned_part = signing_input("HS256", role="admin")
    mac = hmac.new(public_pem(key), unsigned_part.encode(), hashlib.sha256).digest()
    return f"{unsigned_part}.{b64url(mac)}"


def test_forgery_is_well_formed(rsa_key: rsa.RSAPrivateKey) -> None:
    # Only the algorithm and the key are wrong: the claims would pass, the MAC is right.
    token = hs256_with_public_key(rsa_key)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert payload["role"] == "admin"
    unsigned_part, _, signature = token.rpartition(".")
    expected = hmac.new(public_pem(rsa_key), unsigned_part.encode(), hashlib.sha256).digest()
    assert signature == b64url(expected)


async def test_jwks_refuses_hs256_signed_with_the_public_key(
    jwks_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    # Refused by the allowlist (RS256 only), before any key is looked up.
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        await jwks_verifier.verify(hs256_with_public_key(rsa_key))


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        pytest.param(lambda key: unsigned("none"), "algorithm not allowed", id="alg-none"),
        pytest.param(
            lambda key: signed(rsa.generate_private_key(65537, 2048)),
            "InvalidSignature",
            id="other-rsa-key",
        ),
        pytest.param(
            lambda key: signed(key, "RS512"), "algorithm not allowed", id="alg-not-allowed"
        ),
        pytest.param(lambda key: signed(key, "PS256"), "algorithm not allowed", id="ps256"),
        pytest.param(
            lambda key: signed(key, exp=ago(2 * LEEWAY)), "ExpiredSignature", id="expired"
        ),
        pytest.param(
            lambda key: jwt.encode(claims(), key, algorithm="RS256"), "no kid", id="no-kid"
        ),
    ],
)
async def test_jwks_refused_tokens(
    jwks_verifier: TokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
    make_token: Callable[[rsa.RSAPrivateKey], str],
    reason: str,
) -> None:
    with pytest.raises(InvalidToken, match=reason):
        await jwks_verifier.verify(make_token(rsa_key))


# --- construction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithms",
    [["HS256"], ["RS256", "HS256"], *([alg] for alg in sorted(SYMMETRIC))],
    ids=str,
)
def test_jwks_verifier_refuses_symmetric_algorithms(algorithms: list[str]) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(Jwks(JWKS_URL), algorithms=algorithms, issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize("algorithms", [["none"], ["RS256", "XS999"], ["hs256"]], ids=str)
@pytest.mark.parametrize("jwks", [True, False], ids=["jwks", "shared-secret"])
def test_verifier_refuses_unknown_algorithms(algorithms: list[str], jwks: bool) -> None:
    keys = Jwks(JWKS_URL) if jwks else SharedSecret(b"x" * 32)
    with pytest.raises(ValueError, match="unsupported"):
        TokenVerifier(keys, algorithms=algorithms, issuer=ISSUER, audience=AUDIENCE)


def test_verifier_refuses_an_empty_allowlist() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenVerifier(SharedSecret(b"x" * 32), algorithms=[], issuer=ISSUER, audience=AUDIENCE)


# --- the local secret -----------------------------------------------------------------


def test_ensure_local_secret_creates_0600_file_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "jwt-secret"
    first = ensure_local_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    content = path.read_bytes()
    assert ensure_local_secret(path) == first
    assert path.read_bytes() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_local_secrets_differ_between_data_folders(tmp_path: Path) -> None:
    assert ensure_local_secret(tmp_path / "a") != ensure_local_secret(tmp_path / "b")
