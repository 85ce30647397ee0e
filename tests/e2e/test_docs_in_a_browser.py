"""/docs, /redoc and /graphql as a person sees them: opened in a real browser (Debian's
Chromium, ``make browser``, driven by Playwright) that can reach 127.0.0.1 and nothing
else, like a hospital network without internet access. Every request for another host is
aborted and recorded, and so is every load the page's Content-Security-Policy refused:
both lists must stay empty (``/redoc`` has one known exception, below). The screenshots
land in tests/artifacts/docs/ (git-ignored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, expect

from localstack.service import LocalService
from tests.browser import LOCAL_HOST, chromium
from tests.e2e.support import DOCTOR

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "docs"
# Generous: the machine running the suite is shared. A wait, not a measured budget.
WAIT_MS = 30_000
# ReDoc's footer shows Redocly's logo from their CDN; the page's CSP refuses it, so the
# request never leaves (and the footer's link text still reads "API docs by Redocly").
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@dataclass
class Watch:
    """What a page tried that a network without internet access would break."""

    outside: list[str] = field(default_factory=list)  # requests for another host (aborted)
    refused: list[str] = field(default_factory=list)  # loads the CSP refused
    errors: list[str] = field(default_factory=list)  # uncaught script errors

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.refused.append(message.text)


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


@pytest.fixture
def watched(browser: BrowserContext) -> Iterator[tuple[Page, Watch]]:
    watch = Watch()

    def only_this_host(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == LOCAL_HOST or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            watch.outside.append(url)
            route.abort("addressunreachable")

    page = browser.new_page()
    page.route("**/*", only_this_host)
    page.on("console", watch.on_console)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    try:
        yield page, watch
    finally:
        page.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    print(f"screenshot: {path}")
    return path


def test_swagger_ui_lists_every_operation_and_offers_authorize(
    service: LocalService, watched: tuple[Page, Watch]
) -> None:
    page, watch = watched
    document = httpx.get(f"{service.api_url}/openapi.json").json()
    operations = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "options", "head"}
    ]

    page.goto(f"{service.api_url}/docs")

    shown = page.locator(".opblock-summary")
    expect(shown).to_have_count(len(operations), timeout=WAIT_MS)
    listed = [
        (
            row.locator(".opblock-summary-method").inner_text().strip(),
            row.locator(".opblock-summary-path").inner_text().replace("\u200b", "").strip(),
        )
        for row in shown.all()
    ]
    assert sorted(listed) == sorted(operations)
    authorize = page.get_by_role("button", name="Authorize")
    expect(authorize.first).to_be_visible()
    screenshot(page, "swagger-ui")
    authorize.first.click()
    expect(page.get_by_text("Available authorizations")).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "swagger-ui-authorize")
    assert watch.outside == []
    assert watch.refused == []
    assert watch.errors == []


def test_redoc_shows_the_operations(service: LocalService, watched: tuple[Page, Watch]) -> None:
    page, watch = watched
    page.goto(f"{service.api_url}/redoc")

    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Download OpenAPI specification")).to_be_visible()
    screenshot(page, "redoc")
    assert watch.outside == []
    assert all(REDOCLY_LOGO in refused for refused in watch.refused), watch.refused
    assert watch.errors == []


def test_graphiql_runs_a_typed_query_with_a_token_in_its_headers(
    service: LocalService, watched: tuple[Page, Watch]
) -> None:
    page, watch = watched
    day = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    query = f'{{ freeSlots(doctorId: "{DOCTOR}", day: "{day}") {{ start end }} }}'
    page.goto(f"{service.api_url}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible(timeout=WAIT_MS)
    response = page.locator(".graphiql-response")

    # The query, typed as a person would: without a token, the API refuses it.
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(query)
    page.locator(".graphiql-execute-button").click()
    expect(response).to_contain_text("Authentication required", timeout=WAIT_MS)

    # The token, typed in the Headers tab: now the query answers the doctor's free slots.
    page.get_by_role("button", name="Headers").click()
    headers = page.locator(".graphiql-editor-tool .CodeMirror").last
    expect(headers).to_be_visible()
    headers.click()
    token = service.token("staff", "frontdesk-test")
    page.keyboard.type(json.dumps({"Authorization": f"Bearer {token}"}))
    with page.expect_response(
        lambda sent: (
            sent.request.method == "POST" and "freeSlots" in (sent.request.post_data or "")
        ),
        timeout=WAIT_MS,
    ) as answered:
        page.locator(".graphiql-execute-button").click()
    # What the page shows (the result pane only renders the lines in view)...
    expect(response).to_contain_text('"freeSlots"', timeout=WAIT_MS)
    expect(response).to_contain_text('"start"')
    expect(response).not_to_contain_text("errors")
    screenshot(page, "graphiql")
    # ...is the answer to what the browser sent: the typed query, the typed token.
    assert answered.value.request.headers["authorization"] == f"Bearer {token}"
    answer = answered.value.json()
    assert "errors" not in answer
    assert answer["data"]["freeSlots"], "the on-call doctor has free slots a week ahead"
    assert set(answer["data"]["freeSlots"][0]) == {"start", "end"}
    assert watch.outside == []
    assert watch.refused == []
    assert watch.errors == []
