"""SendEmailBlock against a local STARTTLS + AUTH SMTP server, the authenticated web request
against a local echo server (its headers only for the credential's host, never on a hop to
another), and Exa and Firecrawl against the provider stand-in (their paths, auth headers,
bodies and the fields the blocks read)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.integrations import firecrawl
from autoplat.blocks.builtin.integrations.exa import ExaContentsBlock, ExaSearchBlock
from autoplat.blocks.builtin.integrations.firecrawl import (
    FirecrawlCrawlBlock,
    FirecrawlScrapeBlock,
)
from autoplat.blocks.builtin.integrations.http_auth import (
    SendAuthenticatedWebRequestBlock,
    host_matches,
)
from autoplat.blocks.builtin.integrations.smtp_email import SendEmailBlock
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings
from autoplat.integrations.model import (
    APIKeyCredentials,
    HostScopedCredentials,
    UserPasswordCredentials,
)
from tests.support.providers import KEY, FakeProviders
from tests.support.servers import serve
from tests.support.smtp import SecureServer, secure_smtp_server, smtp_server

SECRET = "hs-secret-value-81723"
REF = {"id": "c1", "provider": "x", "type": "api_key"}


async def _context(settings: BlockSettings, outbound: OutboundHttp, creds: Any) -> BlockContext:
    return BlockContext(
        settings=settings, http=outbound.client_for("u1"), credentials={"credentials": creds}
    )


# --- SendEmailBlock ---------------------------------------------------------------------


def _mail_input(port: int, server: str = "localhost") -> dict[str, Any]:
    return {
        "to_email": "someone@example.org",
        "subject": "Weekly report",
        "body": "All green.\nSee you.",
        "config": {"smtp_server": server, "smtp_port": port},
        "credentials": {"id": "m1", "provider": "smtp", "type": "user_password"},
    }


def _login(server: SecureServer, password: str | None = None) -> UserPasswordCredentials:
    return UserPasswordCredentials(
        id="m1",
        provider="smtp",
        username=SecretStr(server.username),
        password=SecretStr(password or server.password),
    )


@pytest.fixture
def secure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with secure_smtp_server(tmp_path) as server:
        # The block's TLS context trusts the system store; the test's CA stands in for it.
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        yield server


async def test_an_email_is_delivered_over_starttls_after_login(secure: SecureServer) -> None:
    settings = BlockSettings(http_allow_private=True)
    async with OutboundHttp(settings) as outbound:
        context = await _context(settings, outbound, _login(secure))
        got = await collect_outputs(SendEmailBlock(), _mail_input(secure.port), context)
    assert got == [("status", "Email sent successfully")]
    (message,) = secure.mailbox.messages
    assert message["From"] == secure.username and message["To"] == "someone@example.org"
    assert message["Subject"] == "Weekly report"
    # SMTP carries CRLF line ends; the text is the same.
    assert secure.mailbox.text(message).replace("\r\n", "\n").strip() == "All green.\nSee you."
    assert secure.mailbox.envelopes == [(secure.username, ["someone@example.org"], True)]


async def test_a_refused_login_is_an_error_that_shows_no_password(secure: SecureServer) -> None:
    settings = BlockSettings(http_allow_private=True)
    async with OutboundHttp(settings) as outbound:
        context = await _context(settings, outbound, _login(secure, "wrong-pass-998"))
        got = await collect_outputs(SendEmailBlock(), _mail_input(secure.port), context)
    assert len(got) == 1 and got[0][0] == "error"
    assert "refused the login" in got[0][1] and "wrong-pass-998" not in got[0][1]
    assert secure.mailbox.messages == []


async def test_a_server_without_starttls_gets_no_password_in_the_clear() -> None:
    settings = BlockSettings(http_allow_private=True)
    creds = UserPasswordCredentials(
        id="m1", provider="smtp", username=SecretStr("me"), password=SecretStr("pw-clear-1")
    )
    with smtp_server() as (mailbox, port):
        async with OutboundHttp(settings) as outbound:
            context = await _context(settings, outbound, creds)
            got = await collect_outputs(SendEmailBlock(), _mail_input(port, "127.0.0.1"), context)
    assert len(got) == 1 and got[0][0] == "error" and "STARTTLS" in got[0][1]
    assert "pw-clear-1" not in got[0][1] and mailbox.messages == []


async def test_a_private_smtp_server_is_refused_unless_the_operator_allows_it(
    secure: SecureServer,
) -> None:
    settings = BlockSettings()
    async with OutboundHttp(settings) as outbound:
        context = await _context(settings, outbound, _login(secure))
        for server in ("localhost", "127.0.0.1", "10.0.0.5"):
            got = await collect_outputs(SendEmailBlock(), _mail_input(25, server), context)
            assert len(got) == 1 and "not allowed" in got[0][1], server
    assert secure.mailbox.messages == []


# --- SendAuthenticatedWebRequestBlock --------------------------------------------------


@dataclasses.dataclass
class Echo:
    """What the echo server saw: per request, its host and the credential's header."""

    seen: list[tuple[str, str | None, str | None]] = dataclasses.field(default_factory=list)

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            self.seen.append(
                (
                    request.url.hostname or "",
                    request.headers.get("x-api-key"),
                    request.headers.get("authorization"),
                )
            )
            return JSONResponse({"path": request.url.path})

        async def redirect(request: Request) -> Response:
            self.seen.append((request.url.hostname or "", request.headers.get("x-api-key"), None))
            return RedirectResponse(request.query_params["to"], status_code=302)

        return Starlette(routes=[Route("/echo", echo), Route("/redirect", redirect)])


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Echo, int]]:
    server = Echo()
    async with serve(server.app()) as url:
        yield server, httpx.URL(url).port or 0


def _scoped(host: str) -> HostScopedCredentials:
    return HostScopedCredentials(
        id="h1",
        provider="http",
        host=host,
        headers={"X-API-Key": SecretStr(SECRET), "Authorization": SecretStr(f"Bearer {SECRET}")},
    )


def _request(url: str, **extra: Any) -> dict[str, Any]:
    ref = {"id": "h1", "provider": "http", "type": "host_scoped"}
    return {"url": url, "method": "GET", "credentials": ref, **extra}


def test_a_credential_host_matches_itself_and_its_wildcard_subdomains() -> None:
    assert host_matches("api.example.com", "API.example.com")
    assert not host_matches("api.example.com", "evil-api.example.com")
    assert host_matches("*.example.com", "a.b.example.com") and host_matches(
        "*.example.com", "example.com"
    )
    assert not host_matches("*.example.com", "example.com.evil.org")
    assert host_matches("https://api.example.com/v1", "api.example.com")
    assert not host_matches("", "api.example.com")


async def test_the_credential_headers_go_only_to_its_own_host(
    echo: tuple[Echo, int], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    server, port = echo
    caplog.set_level(logging.DEBUG)
    settings = BlockSettings(http_allow_private=True)
    block = SendAuthenticatedWebRequestBlock()
    async with OutboundHttp(settings) as outbound:
        # The stand-in's port is not http's default, so the credential names it.
        context = await _context(settings, outbound, _scoped(f"127.0.0.1:{port}"))
        mine = await collect_outputs(block, _request(f"http://127.0.0.1:{port}/echo"), context)
        other = await collect_outputs(block, _request(f"http://localhost:{port}/echo"), context)
        hop = f"http://127.0.0.1:{port}/redirect?to=http://localhost:{port}/echo"
        redirected = await collect_outputs(block, _request(hop), context)
        own = _request(f"http://127.0.0.1:{port}/echo", headers={"X-API-Key": "the-users-own"})
        overridden = await collect_outputs(block, own, context)
    assert mine == other == redirected == overridden == [("response", {"path": "/echo"})]
    assert server.seen == [
        ("127.0.0.1", SECRET, f"Bearer {SECRET}"),
        ("localhost", None, None),
        ("127.0.0.1", SECRET, None),  # the redirecting hop is the credential's host
        ("localhost", None, None),  # the hop it points to is not
        ("127.0.0.1", "the-users-own", f"Bearer {SECRET}"),  # the request's own header wins
    ]
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, repr(mine + other + redirected)):
        assert SECRET not in text


async def test_an_authenticated_request_keeps_the_address_guard_and_hides_the_secret() -> None:
    settings = BlockSettings()
    block = SendAuthenticatedWebRequestBlock()
    async with OutboundHttp(settings) as outbound:
        context = await _context(settings, outbound, _scoped("127.0.0.1"))
        got = await collect_outputs(block, _request("http://127.0.0.1:9/x"), context)
        wrong = dataclasses.replace(context, credentials={"credentials": _login_like()})
        refused = await collect_outputs(block, _request("https://api.example.com/"), wrong)
    assert len(got) == 1 and "not allowed" in got[0][1] and SECRET not in got[0][1]
    assert refused[0][0] == "error" and "host-scoped credentials" in refused[0][1]


def _login_like() -> APIKeyCredentials:
    return APIKeyCredentials(id="h1", provider="http", api_key=SecretStr(SECRET))


# --- Exa and Firecrawl ------------------------------------------------------------------


@dataclasses.dataclass
class Rig:
    fake: FakeProviders
    context: BlockContext

    def with_key(self, key: str) -> BlockContext:
        creds = APIKeyCredentials(id="c1", provider="x", api_key=SecretStr(key))
        return dataclasses.replace(self.context, credentials={"credentials": creds})


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    fake = FakeProviders()
    async with serve(fake.app()) as url:
        settings = BlockSettings(provider_base_urls=fake.base_urls(url), node_timeout=5)
        async with OutboundHttp(settings) as outbound:
            context = BlockContext(settings=settings, http=outbound.client_for("u1"))
            yield Rig(fake, Rig(fake, context).with_key(KEY))


async def outputs(block: Any, data: dict[str, Any], context: BlockContext) -> list[Any]:
    return await collect_outputs(block, {"credentials": REF, **data}, context)


async def test_exa_search_sends_only_what_is_set_in_exas_camel_case(rig: Rig) -> None:
    data = {
        "query": "solar",
        "number_of_results": 2,
        "category": "news",
        "include_domains": ["a.example"],
        "start_published_date": "2026-01-02T03:04:05Z",
        "contents": {"text": {"discriminator": "advanced", "max_characters": 500}},
    }
    got = await outputs(ExaSearchBlock(), data, rig.context)
    (seen,) = rig.fake.seen("exa")
    assert seen.path == "/exa/search" and seen.auth == KEY
    assert seen.body == {
        "query": "solar",
        "numResults": 2,
        "type": "auto",
        "category": "news",
        "includeDomains": ["a.example"],
        "startPublishedDate": "2026-01-02T03:04:05.000Z",
        "contents": {"text": {"maxCharacters": 500}},
    }
    assert [name for name, _ in got] == [
        "results",
        "result",
        "result",
        "resolved_search_type",
        "cost_dollars",
    ]
    first = got[0][1][0]
    assert first["title"] == "solar #0" and first["text"] == "text 0"
    assert first["highlights"] == [] and "score" not in first
    assert got[3][1] == "neural" and got[4][1]["total"] == 0.005


async def test_exa_contents_prefers_urls_and_sends_context_always(rig: Rig) -> None:
    data = {"urls": ["https://a.example/"], "ids": ["ignored"], "highlights": {"num_sentences": 2}}
    got = await outputs(ExaContentsBlock(), data, rig.context)
    (seen,) = rig.fake.seen("exa")
    assert seen.path == "/exa/contents" and seen.auth == KEY
    assert seen.body == {
        "urls": ["https://a.example/"],
        "text": {"includeHtmlTags": True},
        "highlights": {"numSentences": 2, "highlightsPerUrl": 1},
        "livecrawl": "fallback",
        "livecrawlTimeout": 10000,
        "subpages": 0,
        "context": True,
    }
    assert [name for name, _ in got] == ["results", "result", "context", "statuses", "cost_dollars"]
    assert got[1][1]["text"] == "<p>https://a.example/</p>"


async def test_exa_quotes_its_refusal_without_the_key(rig: Rig) -> None:
    got = await outputs(ExaSearchBlock(), {"query": "q"}, rig.with_key("wrong-exa-key-4"))
    assert got[0][0] == "error" and "HTTP 401" in got[0][1] and "Invalid API key" in got[0][1]
    assert "wrong-exa-key-4" not in got[0][1]


async def test_firecrawl_scrape_gives_each_asked_format_in_order(rig: Rig) -> None:
    formats = ["links", "markdown", "screenshot@fullPage", "json"]
    got = await outputs(
        FirecrawlScrapeBlock(), {"url": "https://s.example", "formats": formats}, rig.context
    )
    (seen,) = rig.fake.seen("firecrawl")
    assert seen.path == "/firecrawl/v2/scrape" and seen.auth == f"Bearer {KEY}"
    assert seen.body == {
        "url": "https://s.example",
        "formats": ["links", "markdown", {"type": "screenshot", "fullPage": True}, "json"],
        "onlyMainContent": True,
        "maxAge": 3600000,
        "waitFor": 200,
    }
    assert [name for name, _ in got] == [
        "data",
        "links",
        "markdown",
        "screenshot_full_page",
        "json_data",
    ]
    assert got[1][1] == ["https://s.example/a", "https://s.example/b"]
    assert got[2][1] == "# https://s.example" and got[4][1] == {}


async def test_firecrawl_crawl_polls_the_job_and_reads_every_result_page(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firecrawl, "POLL_INTERVAL", 0.01)
    rig.fake.crawl_pages = [{"markdown": f"page {i}"} for i in range(5)]
    rig.fake.crawl_polls, rig.fake.crawl_page_size = 3, 2
    got = await outputs(
        FirecrawlCrawlBlock(), {"url": "https://c.example", "limit": 5}, rig.context
    )
    seen = rig.fake.seen("firecrawl")
    assert seen[0].path == "/firecrawl/v2/crawl" and seen[0].body["limit"] == 5
    assert seen[0].body["scrapeOptions"]["waitFor"] == 0
    assert [s.path for s in seen[1:]] == ["/firecrawl/v2/crawl/crawl-1"] * 5
    assert all(s.auth == f"Bearer {KEY}" for s in seen)
    assert got[0] == ("data", rig.fake.crawl_pages)
    assert got[1:] == [("markdown", f"page {i}") for i in range(5)]


async def test_firecrawl_crawl_never_follows_a_next_link_to_another_host(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firecrawl, "POLL_INTERVAL", 0.01)
    rig.fake.crawl_pages = [{"markdown": "one"}, {"markdown": "two"}]
    rig.fake.crawl_page_size = 1
    rig.fake.crawl_next_override = "https://collector.example/steal"
    got = await outputs(FirecrawlCrawlBlock(), {"url": "https://c.example"}, rig.context)
    assert got == [("data", [{"markdown": "one"}]), ("markdown", "one")]


async def test_firecrawl_crawl_that_fails_or_never_ends_is_an_error(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firecrawl, "POLL_INTERVAL", 0.05)
    rig.fake.crawl_end = "failed"
    failed = await outputs(FirecrawlCrawlBlock(), {"url": "https://c.example"}, rig.context)
    assert failed[0][0] == "error" and "Firecrawl crawl failed" in failed[0][1]
    rig.fake.crawl_end = "scraping"
    quick = dataclasses.replace(
        rig.context, settings=dataclasses.replace(rig.context.settings, node_timeout=0.3)
    )
    endless = await outputs(FirecrawlCrawlBlock(), {"url": "https://c.example"}, quick)
    assert endless == [("error", "the Firecrawl crawl did not finish within 0.3 seconds")]
    bad = await outputs(
        FirecrawlScrapeBlock(), {"url": "https://s.example"}, rig.with_key("fc-bad-77")
    )
    assert bad[0][0] == "error" and "HTTP 401" in bad[0][1] and "fc-bad-77" not in bad[0][1]
