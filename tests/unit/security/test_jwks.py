"""The JWKS key cache against a real identity provider's endpoint (tests/jwks_server.py):
fetched asynchronously with a short timeout, cached for a TTL, refreshed for an unknown
kid at most once per interval and by one fetch however many callers wait, the last good
set kept while the provider is down, and a key the provider removed dropped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from api.security.tokens import InvalidToken, Jwks, TokenVerifier
from application.permissions import Principal, Role
from config import load_settings
from tests.clocks import Ticks
from tests.jwks_server import JwksServer, SigningKey

ISSUER = "https://login.example.test/"
AUDIENCE = "appointment-service"
TIMEOUT = 0.4  # the fetch's whole budget
TTL = 300.0
INTERVAL = 10.0  # the least time between two fetches


def claims(subject: str = "p-1", role: str = "patient") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rs256("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.es256("ec-1")


@pytest.fixture(scope="module")
def next_key() -> SigningKey:
    return SigningKey.rs256("rsa-2")


@pytest.fixture
def idp(rsa_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(rsa_key).start()
    yield server
    server.stop()


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def jwks(idp: JwksServer, ticks: Ticks) -> Jwks:
    return Jwks(
        idp.url,
        timeout_seconds=TIMEOUT,
        cache_seconds=TTL,
        min_refresh_seconds=INTERVAL,
        clock=ticks,
    )


@pytest.fixture
def verifier(jwks: Jwks) -> TokenVerifier:
    return TokenVerifier(jwks, algorithms=["RS256", "ES256"], issuer=ISSUER, audience=AUDIENCE)


PATIENT = Principal(subject="p-1", role=Role.PATIENT)


async def test_rs256_and_es256_tokens_verify_with_one_fetch(
    verifier: TokenVerifier, idp: JwksServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    idp.keys.append(ec_key)
    assert await verifier.verify(rsa_key.sign(claims())) == PATIENT
    doctor = ec_key.sign(claims("d-3", "doctor"))
    assert await verifier.verify(doctor) == Principal(subject="d-3", role=Role.DOCTOR)
    assert await verifier.verify(rsa_key.sign(claims())) == PATIENT
    assert idp.hits == 1  # cached


async def test_waiting_callers_share_one_fetch(
    verifier: TokenVerifier, idp: JwksServer, rsa_key: SigningKey
) -> None:
    idp.delay = 0.2
    token = rsa_key.sign(claims())
    found = await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    assert found == [PATIENT] * 20
    assert idp.hits == 1


async def test_unknown_kids_refresh_at_most_once_per_interval(
    verifier: TokenVerifier, idp: JwksServer, rsa_key: SigningKey, ticks: Ticks
) -> None:
    await verifier.verify(rsa_key.sign(claims()))
    ticks.advance(INTERVAL)  # the first fetch was a while ago
    bogus = [rsa_key.sign(claims(), kid=f"bogus-{n}") for n in range(10)]
    for token in bogus:
        with pytest.raises(InvalidToken, match="no JWKS key"):
            await verifier.verify(token)
    assert idp.hits == 2  # the first unknown kid refreshed; the others waited for nothing
    ticks.advance(INTERVAL)
    refused = await asyncio.gather(*(verifier.verify(t) for t in bogus), return_exceptions=True)
    assert all(isinstance(error, InvalidToken) for error in refused)
    assert idp.hits == 3  # one more, however many asked at once
    assert await verifier.verify(rsa_key.sign(claims())) == PATIENT  # the set still serves


async def test_a_new_kid_is_picked_up_and_a_removed_one_stops_verifying(
    verifier: TokenVerifier,
    jwks: Jwks,
    idp: JwksServer,
    rsa_key: SigningKey,
    next_key: SigningKey,
    ticks: Ticks,
) -> None:
    old = rsa_key.sign(claims())
    assert await verifier.verify(old) == PATIENT
    idp.keys = [next_key]  # the provider rotates: rsa-1 out, rsa-2 in
    ticks.advance(INTERVAL)

    assert await verifier.verify(next_key.sign(claims())) == PATIENT
    assert jwks.kids == {"rsa-2"}
    with pytest.raises(InvalidToken, match="no JWKS key"):
        await verifier.verify(old)
    assert idp.hits == 2


async def test_after_the_ttl_a_background_refresh_drops_a_removed_key(
    verifier: TokenVerifier,
    jwks: Jwks,
    idp: JwksServer,
    rsa_key: SigningKey,
    next_key: SigningKey,
    ticks: Ticks,
) -> None:
    idp.keys = [rsa_key, next_key]
    old = rsa_key.sign(claims())
    assert await verifier.verify(old) == PATIENT
    idp.keys = [next_key]
    ticks.advance(TTL)

    # The set in hand answers at once; the refresh runs beside the request.
    assert await verifier.verify(old) == PATIENT
    await jwks.refreshed()
    assert idp.hits == 2
    with pytest.raises(InvalidToken, match="no JWKS key"):
        await verifier.verify(old)
    assert await verifier.verify(next_key.sign(claims())) == PATIENT


@pytest.mark.parametrize(
    "outage",
    ["stopped", "503", "not-json", "no-keys", "slow"],
)
async def test_the_last_good_set_serves_while_the_provider_is_down(
    verifier: TokenVerifier,
    jwks: Jwks,
    idp: JwksServer,
    rsa_key: SigningKey,
    next_key: SigningKey,
    ticks: Ticks,
    outage: str,
) -> None:
    token = rsa_key.sign(claims())
    assert await verifier.verify(token) == PATIENT
    if outage == "stopped":
        idp.stop()
    elif outage == "503":
        idp.status = 503
    elif outage == "not-json":
        idp.body = b"<html>maintenance</html>"
    elif outage == "no-keys":
        idp.body = b'{"keys": []}'
    else:
        idp.delay = 5 * TIMEOUT

    for _ in range(2):  # past the TTL, again and again: each refresh fails
        ticks.advance(TTL)
        started = time.monotonic()
        assert await verifier.verify(token) == PATIENT
        assert time.monotonic() - started < TIMEOUT  # never waits for the provider
        await jwks.refreshed()
    assert jwks.kids == {"rsa-1"}
    # A kid the set does not know: refused after one bounded try.
    ticks.advance(INTERVAL)
    started = time.monotonic()
    with pytest.raises(InvalidToken, match="no JWKS key"):
        await verifier.verify(next_key.sign(claims()))
    assert time.monotonic() - started < 3 * TIMEOUT


async def test_a_slow_provider_never_blocks_the_event_loop(
    verifier: TokenVerifier, idp: JwksServer, rsa_key: SigningKey
) -> None:
    """A cold cache, a provider that takes 10x the timeout: the token is refused after
    about the timeout, and the loop keeps running meanwhile."""
    idp.delay = 10 * TIMEOUT
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    beating = asyncio.create_task(heartbeat())
    started = time.monotonic()
    try:
        with pytest.raises(InvalidToken, match="no JWKS key"):
            await verifier.verify(rsa_key.sign(claims()))
    finally:
        beating.cancel()
    waited = time.monotonic() - started
    assert TIMEOUT * 0.8 <= waited < TIMEOUT * 4
    assert beats >= 10  # a blocking fetch would have frozen the heartbeat


async def test_a_token_without_a_kid_is_refused_without_a_fetch(
    verifier: TokenVerifier, idp: JwksServer, rsa_key: SigningKey
) -> None:
    token = jwt.encode(claims(), rsa_key.private, algorithm="RS256")
    with pytest.raises(InvalidToken, match="no kid"):
        await verifier.verify(token)
    assert idp.hits == 0


async def test_symmetric_and_encryption_keys_of_the_set_are_never_trusted(
    jwks: Jwks, idp: JwksServer, rsa_key: SigningKey, next_key: SigningKey
) -> None:
    idp.extra = [
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"},
        {**next_key.jwk(), "kid": "for-encryption", "use": "enc"},
    ]
    await jwks.key_for({"kid": "rsa-1"})
    assert jwks.kids == {"rsa-1"}


def test_the_settings_shape_the_cache(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        jwt_jwks_url="https://login.example.test/jwks.json",
        jwt_algorithms=["ES256"],
        jwt_jwks_timeout_seconds=1.5,
        jwt_jwks_cache_seconds=120,
        jwt_jwks_min_refresh_seconds=5,
    )
    keys = TokenVerifier.from_settings(settings)._keys
    assert isinstance(keys, Jwks)
    assert (keys.url, keys._timeout, keys._cache_seconds, keys._min_refresh) == (
        "https://login.example.test/jwks.json",
        1.5,
        120,
        5,
    )
