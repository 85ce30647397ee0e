"""``POST /codec/encode`` and ``POST /codec/decode``: Temporal's remote codec protocol, so
the Temporal Web UI (and ``temporal --codec-endpoint``) can show the payloads the API and
the worker encrypted (workflows/codec.py) to whoever may read them.

The protocol: the body is a ``Payloads`` message in protobuf's JSON form
(``{"payloads": [{"metadata": {...}, "data": "<base64>"}]}``), and so is the answer; the
client sends ``X-Namespace``, and the Web UI, when told to pass the user's access token,
``Authorization: Bearer <token>``. Here the token is one the API accepts, and only an
admin may use the codec (the permission matrix's ``decode-payloads`` row): decoding shows
every patient's reason and notes, so it is an operator's tool, not the front desk's.

Mounted only when payload encryption is on. Browsers reach it only from the origins of
``codec_origins`` (CORS, ``CodecCors``), credentials allowed, nothing else of the API
opened cross-origin. Left out of the OpenAPI document: an operations endpoint.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from api.deps import PrincipalDep
from api.problems import ProblemError
from application.permissions import Action, authorize

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, include_in_schema=False)

# The headers a codec client sends (the Web UI: Content-Type, X-Namespace, Authorization).
CORS_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]
PREFLIGHT_MAX_AGE_SECONDS = 600


class CodecCors:
    """CORS for the codec's paths only, for the configured origins only: the Web UI runs
    on another origin and calls the codec from the operator's browser. A preflight from
    any other origin is refused (400), and an answer carries no CORS header for it, so
    the browser keeps it from the page."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=CORS_HEADERS,
            allow_credentials=True,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _payloads(body: bytes) -> Payloads:
    try:
        return json_format.Parse(body or b"{}", Payloads())
    except (json_format.ParseError, UnicodeDecodeError) as error:
        raise ProblemError(
            400,
            "invalid-payloads",
            "The body is not a Payloads message",
            f"send Temporal Payloads as protobuf JSON: {error}",
        ) from None


def _answer(payloads: Payloads) -> Response:
    return Response(json_format.MessageToJson(payloads), media_type="application/json")


async def _convert(
    request: Request, who: PrincipalDep, namespace: str | None, decode: bool
) -> Response:
    authorize(who, Action.DECODE_PAYLOADS)
    served = request.app.state.settings.temporal_namespace
    if namespace is not None and namespace != served:
        raise ProblemError(
            400,
            "unknown-namespace",
            "This codec serves another namespace",
            f"this codec serves the namespace {served!r} only",
        )
    payloads = _payloads(await request.body())
    codec: PayloadCodec = request.app.state.codec
    try:
        if decode:
            converted = await codec.decode(payloads.payloads)
        else:
            converted = await codec.encode(payloads.payloads)
    except ValueError as error:  # the codec refuses a payload (workflows.codec)
        raise ProblemError(
            422, "undecryptable-payload", "A payload cannot be decoded", str(error)
        ) from None
    return _answer(Payloads(payloads=converted))


NamespaceHeader = Annotated[
    str | None, Header(alias="X-Namespace", description="the Temporal namespace")
]


@router.post("/decode")
async def decode(
    request: Request, who: PrincipalDep, namespace: NamespaceHeader = None
) -> Response:
    """Decrypt: what the Web UI calls to show a history's inputs and results."""
    return await _convert(request, who, namespace, decode=True)


@router.post("/encode")
async def encode(
    request: Request, who: PrincipalDep, namespace: NamespaceHeader = None
) -> Response:
    """Encrypt with the current key: what the Web UI calls before it sends a signal or
    starts a workflow with a payload typed in by the operator."""
    return await _convert(request, who, namespace, decode=False)
