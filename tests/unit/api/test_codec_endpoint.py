"""The API's remote codec for the Temporal Web UI (api/routes/codec.py), in process:
Temporal's protocol (protobuf JSON Payloads in and out), admins only, and CORS for the
Web UI's origin and no other."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.app import create_app
from api.security.tokens import TokenVerifier, issue_local_token
from application.permissions import Role
from config import Settings, load_settings
from tests.asgi import client_of
from tests.unit.api.conftest import problem_type
from workflows.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeys, new_key

UI = "http://127.0.0.1:8233"
SECRET = b'{"patient_id":"pat-anna-schmidt","reason":"Persistent cough"}'
KEYS = PayloadKeys.parse(f"k1={new_key()}")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("codec"), temporal_ui_url=UI + "/")


def app_with(settings: Settings, codec: EncryptionCodec | None) -> FastAPI:
    app = create_app(settings, codec=codec)  # no lifespan: the verifier set by hand
    issue_local_token(settings, Role.ADMIN, "warm-up")  # makes the local secret
    app.state.verifier = TokenVerifier.from_settings(settings)
    return app


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    return app_with(settings, EncryptionCodec(KEYS))


def bearer(settings: Settings, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_local_token(settings, role, f'{role}-1')}"}


@pytest.fixture
async def admin(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    headers = bearer(settings, Role.ADMIN) | {"X-Namespace": "default"}
    async with client_of(app, headers=headers) as client:
        yield client


def as_json(*payloads: Payload) -> dict[str, Any]:
    """The body the Web UI sends: Payloads in protobuf's JSON form."""
    document: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    return document


def from_json(answer: httpx.Response) -> list[Payload]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return list(json_format.Parse(answer.content, Payloads()).payloads)


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_encode_then_decode_is_the_round_trip_the_web_ui_relies_on(
    admin: httpx.AsyncClient,
) -> None:
    [sealed] = from_json(await admin.post("/codec/encode", json=as_json(plain())))
    assert (sealed.metadata["encoding"], sealed.metadata[KEY_ID]) == (ENCODING, b"k1")
    assert b"pat-anna" not in sealed.data
    assert b"cough" not in sealed.data
    assert from_json(await admin.post("/codec/decode", json=as_json(sealed))) == [plain()]


async def test_decode_opens_what_the_service_encrypted_and_passes_plaintext_through(
    admin: httpx.AsyncClient,
) -> None:
    [sealed] = await EncryptionCodec(KEYS).encode([plain()])
    older = plain(b'"recorded before encryption"')
    answer = await admin.post("/codec/decode", json=as_json(sealed, older))
    assert from_json(answer) == [plain(), older]


async def test_the_body_is_protobuf_json_with_base64_fields(admin: httpx.AsyncClient) -> None:
    """What the Web UI really sends: metadata values and data in base64."""
    body = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(SECRET).decode(),
            }
        ]
    }
    [sealed] = from_json(await admin.post("/codec/encode", json=body))
    [opened] = from_json(await admin.post("/codec/decode", json=as_json(sealed)))
    assert opened.data == SECRET


@pytest.mark.parametrize("role", [Role.STAFF, Role.DOCTOR, Role.PATIENT])
@pytest.mark.parametrize("path", ["/codec/decode", "/codec/encode"])
async def test_only_an_admin_may_use_the_codec(
    app: FastAPI, settings: Settings, role: Role, path: str
) -> None:
    [sealed] = await EncryptionCodec(KEYS).encode([plain()])
    async with client_of(app, headers=bearer(settings, role)) as client:
        answer = await client.post(path, json=as_json(sealed))
    assert problem_type(answer, 403) == "forbidden"
    assert b"cough" not in answer.content


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-jwt", "Basic YWRtaW46YWRtaW4="], ids=str
)
async def test_without_a_valid_token_the_codec_answers_401(
    app: FastAPI, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    [sealed] = await EncryptionCodec(KEYS).encode([plain()])
    async with client_of(app, headers=headers) as client:
        answer = await client.post("/codec/decode", json=as_json(sealed))
    assert problem_type(answer, 401) == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_a_payload_of_an_unknown_key_or_changed_is_a_422(admin: httpx.AsyncClient) -> None:
    [foreign] = await EncryptionCodec(PayloadKeys.parse(f"gone={new_key()}")).encode([plain()])
    answer = await admin.post("/codec/decode", json=as_json(foreign))
    assert problem_type(answer, 422) == "undecryptable-payload"
    assert "'gone'" in answer.json()["detail"]
    [sealed] = await EncryptionCodec(KEYS).encode([plain()])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    answer = await admin.post("/codec/decode", json=as_json(sealed))
    assert problem_type(answer, 422) == "undecryptable-payload"


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"payloads": "x"}', b'{"payloads": [{"data": 5}]}', b'{"p": []}', b"\xff"],
    ids=["not-json", "not-a-list", "data-not-a-string", "unknown-field", "not-utf8"],
)
async def test_a_body_that_is_not_payloads_is_a_400(admin: httpx.AsyncClient, body: bytes) -> None:
    answer = await admin.post(
        "/codec/decode", content=body, headers={"Content-Type": "application/json"}
    )
    assert problem_type(answer, 400) == "invalid-payloads"


async def test_another_namespace_is_refused(admin: httpx.AsyncClient) -> None:
    answer = await admin.post(
        "/codec/decode", json=as_json(plain()), headers={"X-Namespace": "payments"}
    )
    assert problem_type(answer, 400) == "unknown-namespace"


# --- CORS: the Web UI's origin, and only for the codec ----------------------------------


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }


async def test_the_web_uis_preflight_is_allowed_with_its_headers_and_credentials(
    app: FastAPI,
) -> None:
    async with client_of(app) as client:
        answer = await client.options("/codec/decode", headers=preflight(UI))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == UI
    assert answer.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in answer.headers["access-control-allow-methods"]


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:8234", "null"])
async def test_a_preflight_from_another_origin_is_refused(app: FastAPI, origin: str) -> None:
    async with client_of(app) as client:
        answer = await client.options("/codec/decode", headers=preflight(origin))
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


async def test_an_answer_is_readable_by_the_web_ui_only(
    admin: httpx.AsyncClient,
) -> None:
    [sealed] = await EncryptionCodec(KEYS).encode([plain()])
    to_ui = await admin.post("/codec/decode", json=as_json(sealed), headers={"Origin": UI})
    assert to_ui.headers["access-control-allow-origin"] == UI
    elsewhere = await admin.post(
        "/codec/decode", json=as_json(sealed), headers={"Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_the_rest_of_the_api_stays_closed_to_other_origins(app: FastAPI) -> None:
    async with client_of(app) as client:
        answer = await client.options("/api/v1/appointments", headers=preflight(UI))
    assert "access-control-allow-origin" not in answer.headers


async def test_the_origins_can_be_configured(tmp_path_factory: pytest.TempPathFactory) -> None:
    ui = "https://temporal.clinic.example"
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("origins"), codec_allowed_origins=[ui]
    )
    async with client_of(app_with(settings, EncryptionCodec(KEYS))) as client:
        configured = await client.options("/codec/decode", headers=preflight(ui))
        default = await client.options("/codec/decode", headers=preflight(UI))
    assert configured.headers["access-control-allow-origin"] == ui
    assert default.status_code == 400


async def test_without_payload_encryption_there_is_no_codec(settings: Settings) -> None:
    async with client_of(app_with(settings, None), headers=bearer(settings, Role.ADMIN)) as client:
        answer = await client.post("/codec/decode", json=as_json(plain()))
        preflighted = await client.options("/codec/decode", headers=preflight(UI))
    assert problem_type(answer, 404) == "not-found"
    assert "access-control-allow-origin" not in preflighted.headers
