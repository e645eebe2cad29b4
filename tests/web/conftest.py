"""Fixtures of the browser tests: one real ``autoplat serve`` and one headless Chromium.

The server (SQLite, auth on) and the browser are shared by the module's tests; each test
gets a fresh browser context signed in with its own user's bearer token, so the tests
never see each other's agents. Debian's chromium drives them (``make test`` installs it
when missing); without it the tests are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.testing import DatabaseFactory, free_port, make_token, serve_process, wait_ready
from tests.support.oauth_server import FakeOAuthProvider
from tests.support.servers import FakeLlm, serve

CHROMIUM = os.environ.get("AUTOPLAT_TEST_CHROMIUM", "/usr/bin/chromium")
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


@pytest.fixture(scope="module")
def web_server(
    autoplat_db_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
    stand_ins: StandIns,
) -> Iterator[Server]:
    """A real ``autoplat serve`` on a fresh SQLite database (the UI served from the package);
    its ``openai`` provider and its GitHub OAuth app are the module's stand-ins."""
    if autoplat_db_factory.dialect != "sqlite":
        pytest.skip("the browser tests run on SQLite only")
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


@pytest.fixture(scope="module")
def browser(web_server: Server) -> Iterator[Any]:
    """Headless Debian chromium through Playwright.

    After the server: Playwright's sync API keeps an event loop running in this thread,
    where the server's set-up (asyncio.run) could no longer run.
    """
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (make test installs Debian's chromium as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
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
    context.add_init_script(
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
