"""The JWKS key cache against a real identity provider's endpoint (tests/jwks_server.py):
fetched asynchronously with a short timeout, cached for a TTL, refreshed for an unknown
kid at most once per interval and by one fetch however many callers wait, the last good
set kept while the provider is slow or down, a key the provider removed dropped, and the
event loop free while a fetch hangs (the API's /health/live answers meanwhile).

No test measures time: a slow provider is one that holds the fetch (``JwksServer.hold``)
and the tests say what happened while it still held it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from api.app import create_app
from api.security.tokens import InvalidToken, Jwks, TokenVerifier
from application.permissions import Principal, Role
from config import load_settings
from tests.asgi import client_of
from tests.clocks import Ticks
from tests.fakes import World
from tests.jwks_server import JwksServer, SigningKey
from tests.unit.graphql.conftest import FakeSchedule, calendars

ISSUER = "https://login.example.test/"
AUDIENCE = "appointment-service"
TIMEOUT = 0.4  # the fetch's whole budget
TTL = 300.0
INTERVAL = 10.0  # the least time between two fetches
# Far longer than any test runs: a fetch that waits for the provider is still waiting when
# the test looks.
PATIENT_TIMEOUT = 30.0


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


@pytest.fixture
async def patient(idp: JwksServer, ticks: Ticks) -> AsyncIterator[TokenVerifier]:
    """A verifier whose fetches would wait PATIENT_TIMEOUT for the provider."""
    keys = Jwks(idp.url, timeout_seconds=PATIENT_TIMEOUT, cache_seconds=TTL, clock=ticks)
    verifier = TokenVerifier(keys, algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE)
    yield verifier
    idp.release()
    await verifier.aclose()


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
    patient: TokenVerifier, idp: JwksServer, rsa_key: SigningKey
) -> None:
    idp.hold()
    token = rsa_key.sign(claims())
    waiting = asyncio.gather(*(patient.verify(token) for _ in range(20)))
    await idp.holding(1)
    idp.release()
    assert await waiting == [PATIENT] * 20
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
        idp.hold()  # answers nothing, ever: the fetch's timeout ends each try

    for tries in (2, 3):  # past the TTL, again and again: each refresh fails
        ticks.advance(TTL)
        assert await verifier.verify(token) == PATIENT
        await jwks.refreshed()
        assert idp.hits == (1 if outage == "stopped" else tries)
    assert jwks.kids == {"rsa-1"}
    # The bad answers came and were refused; the held fetches never had one.
    assert idp.answered == (1 if outage in ("stopped", "slow") else 3)
    # A kid the set does not know: refused after one try that failed too.
    ticks.advance(INTERVAL)
    with pytest.raises(InvalidToken, match="no JWKS key"):
        await verifier.verify(next_key.sign(claims()))
    assert idp.hits == (1 if outage == "stopped" else 4)
    assert await verifier.verify(token) == PATIENT


async def test_the_set_in_hand_answers_while_a_refresh_hangs(
    patient: TokenVerifier, idp: JwksServer, rsa_key: SigningKey, ticks: Ticks
) -> None:
    token = rsa_key.sign(claims())
    assert await patient.verify(token) == PATIENT
    idp.hold()
    ticks.advance(TTL)

    answer = asyncio.ensure_future(patient.verify(token))
    await idp.holding(1)  # the refresh has reached the provider, which holds it

    assert answer.done(), "the request waited for the refresh"
    assert answer.result() == PATIENT
    assert idp.answered == 1


async def test_a_hanging_fetch_leaves_the_event_loop_free(
    patient: TokenVerifier, idp: JwksServer, rsa_key: SigningKey
) -> None:
    """A cold cache and a provider that holds the fetch: the request waits, the loop does
    not (a blocking fetch would hold the loop until it ended, and this test with it)."""
    idp.hold()
    answer = asyncio.ensure_future(patient.verify(rsa_key.sign(claims())))

    await idp.holding(1)  # runs only while the loop does
    assert not answer.done()

    idp.release()
    assert await answer == PATIENT
    assert idp.hits == 1


async def test_a_provider_that_never_answers_is_given_up_at_the_timeout(
    verifier: TokenVerifier, jwks: Jwks, idp: JwksServer, rsa_key: SigningKey, ticks: Ticks
) -> None:
    idp.hold()
    token = rsa_key.sign(claims())
    with pytest.raises(InvalidToken, match="no JWKS key"):
        await verifier.verify(token)
    # Refused by our timeout: the provider still holds the fetch, unanswered.
    assert (idp.waiting, idp.answered) == (1, 0)
    # Within the interval the next caller is refused at once, with no fetch.
    with pytest.raises(InvalidToken, match="no JWKS key"):
        await verifier.verify(token)
    assert idp.hits == 1
    idp.release()
    ticks.advance(INTERVAL)
    assert await verifier.verify(token) == PATIENT


@pytest.fixture
def api(idp: JwksServer, tmp_path: Path) -> FastAPI:
    """The API (in-process, on the fakes) verifying against ``idp`` as production does."""
    settings = load_settings(
        data_dir=tmp_path,
        jwt_jwks_url=idp.url,
        jwt_algorithms=["RS256"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_timeout_seconds=PATIENT_TIMEOUT,
    )
    app = create_app(settings)  # no lifespan: the state a request needs, set by hand
    app.state.verifier = TokenVerifier.from_settings(settings)
    app.state.schedule = schedule = FakeSchedule(rows=[])
    app.state.services = World(settings=settings, view=schedule, calendars=calendars()).services
    return app


FREE_SLOTS = {"query": '{ freeSlots(doctorId: "doc-on-call", day: "2030-01-07") { start } }'}


async def test_the_api_stays_live_while_a_key_fetch_hangs(
    api: FastAPI, idp: JwksServer, rsa_key: SigningKey
) -> None:
    """Both doors wait for a hanging fetch with a kid the cache does not hold; the
    liveness probe answers meanwhile, and the doors answer once the provider does."""
    idp.hold()
    bearer = {"Authorization": f"Bearer {rsa_key.sign(claims('frontdesk-1', 'staff'))}"}
    async with client_of(api, headers=bearer) as client:
        door = asyncio.ensure_future(client.post("/graphql", json=FREE_SLOTS))
        rest = asyncio.ensure_future(client.get("/api/v1/appointments?limit=1"))
        await idp.holding(1)

        live = await client.get("/health/live")

        assert (live.status_code, live.json()) == (200, {"status": "ok"})
        assert not door.done()
        assert not rest.done()
        assert (idp.hits, idp.answered) == (1, 0)  # one fetch for both
        idp.release()
        graphql, listing = await door, await rest
    assert graphql.status_code == 200, graphql.text
    assert graphql.json()["data"]["freeSlots"] == [{"start": "2030-01-07T08:00:00+00:00"}]
    assert listing.status_code == 200, listing.text
    await api.state.verifier.aclose()


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


@pytest.mark.parametrize(
    "setting",
    [
        {"jwt_jwks_min_refresh_seconds": 0},  # a fetch for every made-up kid
        {"jwt_jwks_timeout_seconds": 0},
        {"jwt_jwks_timeout_seconds": 31},  # longer than a client waits
        {"jwt_jwks_cache_seconds": 0},
    ],
    ids=str,
)
def test_the_cache_settings_keep_their_bounds(setting: dict[str, float], tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(data_dir=tmp_path, **setting)
