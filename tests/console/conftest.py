"""The console's fixtures: the emulator as `./scripts/emulate` builds it (one development integration,
real workers), served on a loopback port, and Debian's chromium driven by playwright."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from customer_auth.integrations import Integration
from emulator.bundle import emulator_app, first_start
from emulator.manifest import load_manifest
from tests.conftest import CRYPT_KEY, ROOT, serving, unavailable

CHROMIUM = os.environ.get("CONSOLE_TEST_CHROMIUM", "/usr/bin/chromium")
# What this machine's chromium needs to start headless in a container, quietly and offline.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "console"


@pytest.fixture
def emulator(store_url: str) -> Iterator[tuple]:
    """(flask app, controller, store) with the development integration a first start creates."""
    env = {"STORE_URL": store_url, "CRYPT_KEY": CRYPT_KEY}
    app, controller, store = emulator_app(load_manifest(ROOT / "app.config.yaml", env), workers_per_action=1)
    try:
        yield app, controller, store
    finally:
        controller.shutdown()


@pytest.fixture
def development(emulator) -> Integration:
    created = first_start(emulator[2])
    assert created is not None
    return created


@pytest.fixture
def live_server(emulator, development) -> Iterator[str]:
    """The emulator on a free loopback port (a real threaded HTTP server, as `./scripts/emulate` runs it)."""
    with serving(emulator[0], emulator[1]) as base:
        yield base


def _unavailable(reason: str) -> NoReturn:
    unavailable(f"the console's browser tests need chromium and playwright: {reason}")


@contextmanager
def launched_browser(args: list[str] = CHROMIUM_ARGS) -> Iterator[object]:
    """Headless chromium (Debian's: Playwright's own download needs the internet), started with `args`."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        _unavailable(f"playwright is not installed ({error}); ./scripts/test installs the test extra")
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium; ./scripts/test does it as root)")
    playwright = sync_playwright().start()
    try:
        # Playwright adds --headless and a fresh temporary --user-data-dir to every launch.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    except Error as error:
        playwright.stop()
        _unavailable(f"chromium did not start: {str(error).splitlines()[0]}")
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module-scoped, so it starts once and, started before each test's leak check, is not taken for a
    leaked worker."""
    with launched_browser() as started:
        yield started


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page; console errors fail the test (but those a test provoked and names in
    `page.expected_errors`); a screenshot of the last state is kept either way."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(20_000)
    try:
        yield page
        expected = getattr(page, "expected_errors", ())
        unexpected = [e for e in errors if not any(text in e for text in expected)]
        assert not unexpected, f"the page reported errors: {unexpected}"
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
        finally:
            context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
