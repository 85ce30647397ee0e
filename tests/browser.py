"""Debian's Chromium, headless, as the browser tests open it (ARCHITECTURE §5's flags;
``make browser`` installs it): a fresh profile each time, and no name but 127.0.0.1
resolves, like a hospital network without internet access."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LOCAL_HOST = "127.0.0.1"
# The browser's own flags (the design's); Playwright adds --headless and its own.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # No name but 127.0.0.1 resolves: whatever escaped the request filter would fail too.
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOCAL_HOST}",
]


@contextmanager
def chromium(viewport: tuple[int, int] = (1280, 900)) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh --user-data-dir, closed afterwards."""
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's")
    width, height = viewport
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
