"""The documentation pages, Swagger UI at /docs, ReDoc at /redoc and GraphiQL at /graphql,
with every script, style sheet and image served by the service itself under /static/docs
(``api.docs.assets``). Each page carries a Content-Security-Policy that lets the browser
load nothing from any other origin, so "no request leaves the host" is enforced by the
browser, not just true today."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from api.docs import assets
from api.problems import ProblemError

GRAPHIQL_TEMPLATE = Path(__file__).with_name("graphiql.html")
OPENAPI_URL = "/openapi.json"

# The bodies of inline <script> elements (no src): each is allowed by its hash alone.
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(html: str) -> str:
    """Only this origin, for everything: scripts (the page's own inline ones by their
    SHA-256), styles (inline too: ReDoc and Swagger UI write style elements), images and
    fonts (``data:`` URIs too, as the bundles' CSS uses them), fetches (the OpenAPI
    document, GraphQL), ReDoc's search worker (a ``blob:``). No other host appears."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def page(html: str) -> HTMLResponse:
    """``html`` with its Content-Security-Policy, after checking its assets are installed."""
    absent = assets.missing()
    if absent:
        raise ProblemError(
            503,
            "docs-assets-missing",
            "Documentation assets not installed",
            f"run `make docs-assets` (missing: {', '.join(absent)})",
        )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": content_security_policy(html),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def swagger_ui_html(title: str) -> str:
    html = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{title} - Swagger UI",
        swagger_js_url=assets.url("swagger-ui-bundle.js"),
        swagger_css_url=assets.url("swagger-ui.css"),
        swagger_favicon_url=assets.url("favicon-32x32.png"),
        # Swagger UI would otherwise ask validator.swagger.io to check the document.
        swagger_ui_parameters={"validatorUrl": None},
    )
    return bytes(html.body).decode()


def redoc_html(title: str) -> str:
    html = get_redoc_html(
        openapi_url=OPENAPI_URL,
        title=f"{title} - ReDoc",
        redoc_js_url=assets.url("redoc.standalone.js"),
        redoc_favicon_url=assets.url("favicon-32x32.png"),
        with_google_fonts=False,
    )
    return bytes(html.body).decode()


def graphiql_html() -> str:
    return GRAPHIQL_TEMPLATE.read_text(encoding="utf-8")


def install(app: FastAPI) -> None:
    """/docs, /redoc and the assets under /static/docs, on an app made with
    ``docs_url=None, redoc_url=None`` (FastAPI's own pages load from CDNs). GraphiQL's page
    is the GraphQL router's (``api.graphql.router``)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return page(swagger_ui_html(app.title))

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return page(redoc_html(app.title))

    app.include_router(router)
    # Only the copied files are in that folder; an unknown name answers 404.
    app.mount(
        assets.URL_PREFIX,
        StaticFiles(directory=assets.STATIC_DIR, check_dir=False),
        name="docs-assets",
    )
