"""/docs, /redoc and GraphiQL load everything from the service itself: every script, style
sheet and icon they name is one of api/docs/assets.py, served under /static/docs, and
their Content-Security-Policy lets the browser reach no other origin. The pages in a real
browser with the network cut: tests/e2e/test_docs_in_a_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.docs import assets
from config import Settings
from tests.asgi import client_of

REPO = Path(__file__).parents[3]
PAGES = ["/docs", "/redoc", "/graphql"]
# What a CSP source list may hold here: keywords, hashes and local schemes; never a host.
LOCAL_SOURCES = re.compile(r"'self'|'none'|'unsafe-inline'|'sha256-[A-Za-z0-9+/=]+'|data:|blob:")


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app, headers={"Accept": "text/html"}) as client:
        yield client


def policy_of(answer: httpx.Response) -> dict[str, list[str]]:
    directives = (d.split() for d in answer.headers["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in directives}


def referenced(html: str) -> list[str]:
    """Every URL the page loads by itself: script sources, links (icons, style sheets)."""
    return re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", html)


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_loads_only_our_own_assets(anonymous: httpx.AsyncClient, path: str) -> None:
    answer = await anonymous.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    urls = referenced(answer.text)
    assert urls
    for url in urls:
        assert url.startswith(assets.URL_PREFIX + "/"), url
        assert url.removeprefix(assets.URL_PREFIX + "/") in assets.ASSETS, url
        served = await anonymous.get(url)
        assert served.status_code == 200, url
        assert served.content == (assets.STATIC_DIR / url.rsplit("/", 1)[1]).read_bytes()
    assert "https://" not in answer.text.replace("https://clinic.example", "")


@pytest.mark.parametrize("path", PAGES)
async def test_the_policy_allows_no_other_origin(anonymous: httpx.AsyncClient, path: str) -> None:
    answer = await anonymous.get(path)
    policy = policy_of(answer)
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for name, sources in policy.items():
        for source in sources:
            assert LOCAL_SOURCES.fullmatch(source), f"{name} {source}"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


@pytest.mark.parametrize("path", PAGES)
async def test_each_inline_script_is_allowed_by_its_hash(
    anonymous: httpx.AsyncClient, path: str
) -> None:
    answer = await anonymous.get(path)
    allowed = set(policy_of(answer)["script-src"])
    for body in re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


async def test_swagger_ui_asks_no_outside_validator(anonymous: httpx.AsyncClient) -> None:
    page = (await anonymous.get("/docs")).text
    assert '"validatorUrl": null' in page


@pytest.mark.parametrize(
    "path", ["/static/docs/nothing.js", "/static/docs/../assets.py", "/static/docs/"]
)
async def test_only_the_listed_assets_are_served(anonymous: httpx.AsyncClient, path: str) -> None:
    answer = await anonymous.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_without_its_assets_a_page_says_how_to_install_them(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "STATIC_DIR", tmp_path / "static")
    async with client_of(create_app(settings), headers={"Accept": "text/html"}) as client:
        for path in PAGES:
            answer = await client.get(path)
            assert answer.status_code == 503, path
            assert answer.headers["content-type"] == "application/problem+json"
            assert "make docs-assets" in answer.json()["detail"]


def fake_node_modules(root: Path) -> Path:
    for name, source in assets.ASSETS.items():
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_text(f"/* {name} */")
    return root


def test_vendor_copies_exactly_the_listed_files(tmp_path: Path) -> None:
    node_modules = fake_node_modules(tmp_path / "node_modules")
    static = tmp_path / "static"
    static.mkdir()
    (static / "left-over.js").write_text("from an older list")

    assets.vendor(node_modules, static)

    assert sorted(path.name for path in static.iterdir()) == sorted(assets.ASSETS)
    assert (static / "graphiql.min.js").read_text() == "/* graphiql.min.js */"
    assert assets.missing(static) == []


def test_vendor_names_what_npm_did_not_install_and_changes_nothing(tmp_path: Path) -> None:
    node_modules = fake_node_modules(tmp_path / "node_modules")
    (node_modules / assets.ASSETS["redoc.standalone.js"]).unlink()
    static = tmp_path / "static"
    static.mkdir()
    (static / "kept.js").write_text("")

    with pytest.raises(FileNotFoundError, match=re.escape("redoc/bundles/redoc.standalone.js")):
        assets.vendor(node_modules, static)
    assert [path.name for path in static.iterdir()] == ["kept.js"]


def test_every_package_is_pinned_by_version_and_hash() -> None:
    manifest = json.loads((REPO / "docs-assets/package.json").read_text())
    lock = json.loads((REPO / "docs-assets/package-lock.json").read_text())
    for name, version in manifest["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not exact"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version
        assert locked["integrity"].startswith("sha512-")
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    # Each asset comes from a package the manifest names (not from one of their deps).
    packages = {
        "/".join(source.split("/")[: 2 if source.startswith("@") else 1])
        for source in assets.ASSETS.values()
    }
    assert packages == set(manifest["dependencies"])
