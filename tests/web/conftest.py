"""Fixtures of the browser tests: one real ``autoplat serve`` per browser, each browser headless.

Every browser test runs twice, in Debian's chromium and in Debian's firefox-esr (``make
test`` installs both when missing, as root; a missing one skips its half). For each
browser the module gets its own server (SQLite, auth on) on a fresh database, shared by
the module's tests; each test gets a fresh browser context signed in with its own user's
bearer token, so the tests never see each other's agents, nor the other browser's.
Firefox is driven over WebDriver BiDi (Playwright's ``moz-firefox`` channel) through
``tests/support/firefox_bidi.py``, which fills the one command Firefox ESR lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.testing import DatabaseFactory, free_port, make_token, serve_process, wait_ready
from tests.support.firefox_bidi import FIREFOX
from tests.support.oauth_server import FakeOAuthProvider
from tests.support.servers import FakeLlm, serve

CHROMIUM = os.environ.get("AUTOPLAT_TEST_CHROMIUM", "/usr/bin/chromium")
FIREFOX_RELAY = Path(__file__).resolve().parents[1] / "support/firefox_bidi.py"
CALCULATOR = Path(__file__).resolve().parents[3] / "shared/compat/agents/calculator-agent.json"


@dataclass
class Server:
    """A running server: its URL and a way to act as any user through the API."""

    url: str

    def client(self, user_id: str, *, role: str = "user") -> httpx.Client:
        token = make_token(user_id, role=role)
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )


@dataclass
class StandIns:
    """The providers' stand-ins, served from a thread of their own on loopback ports:
    an OpenAI-compatible LLM (``llm_url`` ends in /v1) and an OAuth2 provider."""

    llm: FakeLlm
    llm_url: str
    oauth: FakeOAuthProvider
    oauth_url: str


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[StandIns]:
    """``FakeLlm`` (the server's ``openai``) and ``FakeOAuthProvider`` (its GitHub OAuth app).

    Their own thread and event loop: Playwright's sync API holds the test thread's loop.
    """
    llm = FakeLlm(responder=lambda body: "Hello from the stand-in")
    oauth = FakeOAuthProvider()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["stop"] = stop
        box["loop"] = asyncio.get_running_loop()
        async with serve(llm.app()) as llm_base, serve(oauth.app()) as oauth_base:
            box["urls"] = (llm_base, oauth_base)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="stand-ins", daemon=True)
    thread.start()
    assert started.wait(15), "the stand-in providers did not start"
    try:
        llm_base, oauth_base = box["urls"]
        yield StandIns(llm, f"{llm_base}/v1", oauth, oauth_base)
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(15)


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def browser_name(request: pytest.FixtureRequest) -> str:
    """Which browser drives this half of the module's tests."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def web_server(
    autoplat_db_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
    stand_ins: StandIns,
    browser_name: str,
) -> Iterator[Server]:
    """A real ``autoplat serve`` on a fresh SQLite database (the UI served from the package),
    one per browser; its ``openai`` provider and its GitHub OAuth app are the module's
    stand-ins."""
    if autoplat_db_factory.dialect != "sqlite":
        pytest.skip("the browser tests run on SQLite only")
    _browser_present(browser_name)  # before the server, which is not needed without it
    workdir = tmp_path_factory.mktemp("web-server")
    url = asyncio.run(autoplat_db_factory.create())
    port = free_port()
    proc = serve_process(
        url,
        port,
        workdir,
        workdir / "server.log",
        llm_provider_urls=json.dumps({"openai": stand_ins.llm_url}),
        oauth_base_urls=json.dumps({"github": stand_ins.oauth_url}),
        github_client_id=stand_ins.oauth.client_id,
        github_client_secret=stand_ins.oauth.client_secret,
    )
    try:
        asyncio.run(wait_ready(port, proc))
        yield Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _browser_present(name: str) -> None:
    """Skip unless the named browser's Debian binary is installed."""
    path = CHROMIUM if name == "chromium" else FIREFOX
    if not (Path(path).exists() or shutil.which(path)):
        package = "chromium" if name == "chromium" else "firefox-esr"
        pytest.skip(f"no {name} at {path} (make test installs Debian's {package} as root)")


@pytest.fixture(scope="module")
def browser(
    web_server: Server, browser_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The headless Debian browser through Playwright.

    After the server: Playwright's sync API keeps an event loop running in this thread,
    where the server's set-up (asyncio.run) could no longer run.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        if browser_name == "chromium":
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
        else:
            # Playwright starts an executable with its own arguments: a wrapper that runs
            # the relay (with this interpreter), which runs Firefox.
            wrapper = tmp_path_factory.mktemp("firefox") / "firefox"
            wrapper.write_text(
                f'#!/bin/sh\nexec "{sys.executable}" "{FIREFOX_RELAY}" "$@"\n', encoding="utf-8"
            )
            wrapper.chmod(0o755)
            browser = pw.firefox.launch(
                channel="moz-firefox", executable_path=str(wrapper), headless=True
            )
        yield browser
        browser.close()


def signed_in_page(
    browser: Any,
    server: Server,
    user_id: str,
    *,
    role: str = "user",
    viewport: tuple[int, int] = (1280, 720),
) -> Any:
    """A page of a new context whose session already holds ``user_id``'s bearer token."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": viewport[0], "height": viewport[1]}
    )
    credential = json.dumps({"kind": "bearer", "value": make_token(user_id, role=role)})
    # Only on the app's pages: Firefox runs init scripts on the first about:blank too, where
    # storage is refused ("The operation is insecure").
    context.add_init_script(
        "if (location.origin === " + json.dumps(server.url) + ") "
        f"window.sessionStorage.setItem('autoplat.credential', {json.dumps(credential)});"
    )
    context.set_default_timeout(20_000)  # the suite shares the machine
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors
    _PAGES.append(page)
    return page


_PAGES: list[Any] = []


def enter(field: Any, text: str) -> None:
    """Replace a text field's value as a user would, in either browser.

    Chromium: Playwright's ``fill``. Firefox over BiDi: Playwright's ``fill`` writes the
    value from the page's own script world, where React's value tracker sees no change, so
    a controlled input never hears of it; there the field is cleared with a real Delete key
    and the text typed with real key events. (Date and time inputs are set by ``fill`` in
    both browsers, from the isolated world, and need no help.)
    """
    if field.page.context.browser.browser_type.name != "firefox":
        field.fill(text)
        return
    field.fill("")
    field.press_sequentially(text)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, a screenshot of every page the test opened (``failure-N.png``)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed and "tmp_path" in getattr(item, "funcargs", {}):
        tmp_path: Path = item.funcargs["tmp_path"]  # type: ignore[attr-defined]
        for i, page in enumerate(_PAGES):
            with contextlib.suppress(Exception):  # the page may be closed already
                page.screenshot(path=str(tmp_path / f"failure-{i}.png"))
    if report.when == "teardown":
        _PAGES.clear()
