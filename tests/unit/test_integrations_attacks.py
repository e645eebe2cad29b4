"""Today's integration blocks attacked as a graph author would: dot segments in repository
URLs, file paths, spreadsheet ids and message ids that would climb to another API path;
a provider that echoes the key it was sent; host-scoped credentials on another port, in
another spelling of the host, or holding a line break; result pages and mailboxes that
would hold hundreds of capped answers at once. Every provider is a local stand-in."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.integrations import firecrawl
from autoplat.blocks.builtin.integrations.exa import ExaSearchBlock
from autoplat.blocks.builtin.integrations.firecrawl import (
    FirecrawlCrawlBlock,
    FirecrawlScrapeBlock,
)
from autoplat.blocks.builtin.integrations.github_issues import GithubListIssuesBlock
from autoplat.blocks.builtin.integrations.github_repo import GithubReadFileBlock
from autoplat.blocks.builtin.integrations.gmail import GmailReadBlock
from autoplat.blocks.builtin.integrations.google_sheets import GoogleSheetsReadBlock
from autoplat.blocks.builtin.integrations.http_auth import (
    SendAuthenticatedWebRequestBlock,
    host_matches,
)
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings
from autoplat.integrations.model import (
    APIKeyCredentials,
    HostScopedCredentials,
    OAuth2Credentials,
)
from tests.support.providers import KEY as FIRECRAWL_KEY
from tests.support.providers import FakeProviders
from tests.support.servers import serve

KEY = "sk-attack-test-key-5521"
TOKEN = "ya29.attack-test-token-8830"
SECRET = "hs-attack-secret-66120"


@dataclasses.dataclass
class Recorder:
    """A stand-in for GitHub, Sheets and Gmail under their prefixes that answers every path:
    the path asked, and a 401 that echoes the credential it was sent (as careless APIs do)."""

    paths: list[str] = dataclasses.field(default_factory=list)
    #: Gmail's listing, and the size of each message's ``snippet`` (its bulk).
    message_ids: list[str] = dataclasses.field(default_factory=list)
    snippet_size: int = 10
    echo_refusal: bool = False
    refusal_status: str = "DENIED"

    def app(self) -> Starlette:
        async def any_path(request: Request) -> Response:
            self.paths.append(request.url.path)
            sent = request.headers.get("authorization") or request.headers.get("x-api-key", "")
            if self.echo_refusal:
                # GitHub's, Google's and Exa's refusal shapes, each quoting what it was sent.
                error = f"invalid credential {sent!r}"
                body = {
                    "message": error,
                    "error": {"message": error, "status": self.refusal_status},
                }
                return JSONResponse(body, status_code=401)
            if request.url.path.endswith("/users/me/messages"):
                return JSONResponse({"messages": [{"id": i} for i in self.message_ids]})
            if "/users/me/messages/" in request.url.path:
                text = base64.urlsafe_b64encode(b"hello").decode()
                payload = {"mimeType": "text/plain", "headers": [], "body": {"data": text}}
                mid = request.url.path.rsplit("/", 1)[1]
                return JSONResponse(
                    {"id": mid, "snippet": "x" * self.snippet_size, "payload": payload}
                )
            return JSONResponse({"message": "Not Found"}, status_code=404)

        return Starlette(routes=[Route("/{rest:path}", any_path, methods=["GET", "POST", "PUT"])])


@dataclasses.dataclass
class Rig:
    recorder: Recorder
    context: BlockContext

    def with_credentials(self, credentials: object) -> BlockContext:
        return dataclasses.replace(self.context, credentials={"credentials": credentials})

    def key(self, provider: str) -> BlockContext:
        return self.with_credentials(
            APIKeyCredentials(id="c1", provider=provider, api_key=SecretStr(KEY))
        )

    def google(self) -> BlockContext:
        return self.with_credentials(
            OAuth2Credentials(id="c2", provider="google", access_token=SecretStr(TOKEN))
        )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    recorder = Recorder()
    async with serve(recorder.app()) as url:
        bases = {
            "github": f"{url}/github",
            "google_sheets": f"{url}/sheets",
            "gmail": f"{url}/gmail",
            "exa": f"{url}/exa",
            "firecrawl": f"{url}/firecrawl",
        }
        settings = BlockSettings(provider_base_urls=bases)
        async with OutboundHttp(settings) as outbound:
            yield Rig(recorder, BlockContext(settings=settings, http=outbound.client_for("u1")))


async def run(block: Block[Any], data: dict[str, Any], context: BlockContext) -> list[Any]:
    ref = {"id": "c1", "provider": "x", "type": "api_key"}
    return await collect_outputs(block, {"credentials": ref, **data}, context)


# --- dot segments ----------------------------------------------------------------------


async def test_dot_segments_in_a_github_url_or_file_path_never_leave_the_repository(
    rig: Rig,
) -> None:
    climbs: list[tuple[Block[Any], dict[str, str]]] = [
        (GithubListIssuesBlock(), {"repo_url": "https://github.com/../user"}),
        (GithubListIssuesBlock(), {"repo_url": "https://github.com/octo/.."}),
        (
            GithubReadFileBlock(),
            {"repo_url": "https://github.com/octo/demo", "file_path": "../../../../user"},
        ),
    ]
    for block, data in climbs:
        got = await run(block, data, rig.key("github"))
        assert got[0][0] == "error" and "not a valid name" in got[0][1], data
    # Nothing went out at all; in particular nothing outside /repos/octo/demo/.
    assert rig.recorder.paths == []
    fine = await run(
        GithubReadFileBlock(),
        {"repo_url": "https://github.com/octo/demo", "file_path": "docs/..hidden/a.md"},
        rig.key("github"),
    )
    assert fine[0][0] == "error"
    assert rig.recorder.paths == ["/github/repos/octo/demo/contents/docs/..hidden/a.md"]


async def test_a_spreadsheet_id_or_range_of_dots_never_reaches_another_sheets_resource(
    rig: Rig,
) -> None:
    for sheet, cells in (("..", "A1"), ("abc", ".."), (".", "x")):
        data = {"spreadsheet_id": sheet, "range": cells}
        got = await run(GoogleSheetsReadBlock(), data, rig.google())
        assert got[0][0] == "error" and "not a valid name" in got[0][1], data
    assert rig.recorder.paths == []


async def test_a_message_id_of_dots_in_gmails_listing_is_refused_not_followed(rig: Rig) -> None:
    rig.recorder.message_ids = [".."]
    got = await run(GmailReadBlock(), {"query": ""}, rig.google())
    assert got[0][0] == "error" and "not a valid name" in got[0][1]
    assert rig.recorder.paths == ["/gmail/gmail/v1/users/me/messages"]


# --- echoed secrets --------------------------------------------------------------------


async def test_a_provider_that_echoes_the_key_in_its_refusal_shows_it_in_no_error(
    rig: Rig,
) -> None:
    rig.recorder.echo_refusal = True
    cases: list[tuple[Block[Any], dict[str, Any], BlockContext]] = [
        (ExaSearchBlock(), {"query": "q"}, rig.key("exa")),
        (FirecrawlScrapeBlock(), {"url": "https://s.example"}, rig.key("firecrawl")),
        (GithubListIssuesBlock(), {"repo_url": "https://github.com/octo/demo"}, rig.key("github")),
        (GoogleSheetsReadBlock(), {"spreadsheet_id": "s1", "range": "A1"}, rig.google()),
    ]
    for block, data, context in cases:
        got = await run(block, data, context)
        assert got[0][0] == "error" and "invalid credential" in got[0][1], block.name
        assert KEY not in got[0][1] and TOKEN not in got[0][1], got[0][1]
        assert "[redacted]" in got[0][1]
    assert len(rig.recorder.paths) == len(cases)


async def test_a_google_refusal_with_a_huge_status_gives_a_short_error(rig: Rig) -> None:
    rig.recorder.echo_refusal = True
    rig.recorder.refusal_status = "S" * 50_000
    data = {"spreadsheet_id": "s1", "range": "A1"}
    got = await run(GoogleSheetsReadBlock(), data, rig.google())
    assert got[0][0] == "error" and "invalid credential" in got[0][1]
    assert len(got[0][1]) < 600


# --- bounded memory --------------------------------------------------------------------


async def test_a_crawls_result_pages_together_stay_under_the_answer_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(firecrawl, "POLL_INTERVAL", 0.01)
    fake = FakeProviders()
    fake.crawl_pages = [{"markdown": "m" * 1500} for _ in range(6)]
    fake.crawl_page_size = 1
    async with serve(fake.app()) as url:
        settings = BlockSettings(
            provider_base_urls=fake.base_urls(url), node_timeout=5, http_max_response_bytes=4000
        )
        async with OutboundHttp(settings) as outbound:
            key = SecretStr(FIRECRAWL_KEY)
            creds = APIKeyCredentials(id="c1", provider="firecrawl", api_key=key)
            context = BlockContext(
                settings=settings,
                http=outbound.client_for("u1"),
                credentials={"credentials": creds},
            )
            got = await run(FirecrawlCrawlBlock(), {"url": "https://c.example"}, context)
            fake.crawl_pages = fake.crawl_pages[:2]
            fits = await run(FirecrawlCrawlBlock(), {"url": "https://c.example"}, context)
    assert got[0][0] == "error" and "larger than 4000 bytes" in got[0][1]
    assert fits[0][0] == "data" and len(fits[0][1]) == 2


async def test_the_emails_read_at_once_stay_under_the_answer_cap_together(rig: Rig) -> None:
    rig.recorder.message_ids = [f"m{i}" for i in range(8)]
    rig.recorder.snippet_size = 1000
    small = dataclasses.replace(rig.context.settings, http_max_response_bytes=5000)
    context = dataclasses.replace(rig.google(), settings=small)
    got = await run(GmailReadBlock(), {"query": "", "max_results": 8}, context)
    assert got[0][0] == "error" and "larger than 5000 bytes" in got[0][1]
    fits = await run(GmailReadBlock(), {"query": "", "max_results": 3}, context)
    assert [name for name, _ in fits] == ["email", "email", "email", "emails"]


# --- host-scoped credentials -----------------------------------------------------------


@dataclasses.dataclass
class Echo:
    """Which port saw which credential header."""

    port: int = 0
    seen: list[tuple[int, str | None]] = dataclasses.field(default_factory=list)
    authorization: list[str | None] = dataclasses.field(default_factory=list)

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            self.seen.append((self.port, request.headers.get("x-api-key")))
            self.authorization.append(request.headers.get("authorization"))
            if "mirror" in request.query_params:
                # A debug endpoint of the credential's own host: it echoes the request.
                return JSONResponse({"headers": dict(request.headers)})
            if "to" in request.query_params:
                return RedirectResponse(request.query_params["to"], status_code=302)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/echo", echo)])


@pytest.fixture
async def two_ports() -> AsyncIterator[tuple[Echo, Echo]]:
    first, second = Echo(), Echo()
    async with serve(first.app()) as a, serve(second.app()) as b:
        first.port, second.port = httpx.URL(a).port or 0, httpx.URL(b).port or 0
        yield first, second


def _scoped(host: str, value: str = SECRET) -> HostScopedCredentials:
    return HostScopedCredentials(
        id="h1", provider="http", host=host, headers={"X-API-Key": SecretStr(value)}
    )


async def _send(url: str, creds: HostScopedCredentials, **extra: Any) -> list[Any]:
    settings = BlockSettings(http_allow_private=True)
    ref = {"id": "h1", "provider": "http", "type": "host_scoped"}
    async with OutboundHttp(settings) as outbound:
        context = BlockContext(
            settings=settings, http=outbound.client_for("u1"), credentials={"credentials": creds}
        )
        data = {"url": url, "method": "GET", "credentials": ref, **extra}
        return await collect_outputs(SendAuthenticatedWebRequestBlock(), data, context)


async def test_a_host_credential_goes_only_to_the_port_it_names_or_the_default_one(
    two_ports: tuple[Echo, Echo],
) -> None:
    first, second = two_ports
    a, b = first.port, second.port
    # No port named: another port of the same host is another service.
    await _send(f"http://127.0.0.1:{a}/echo", _scoped("127.0.0.1"))
    # The port named: sent there, and not on a redirect to the host's other port.
    hop = f"http://127.0.0.1:{a}/echo?to=http://127.0.0.1:{b}/echo"
    got = await _send(hop, _scoped(f"127.0.0.1:{a}"))
    assert got == [("response", {"ok": True})]
    assert first.seen == [(a, None), (a, SECRET)] and second.seen == [(b, None)]


def test_a_credential_host_matches_in_its_idna_form_and_without_a_trailing_dot() -> None:
    assert host_matches("xn--bcher-kva.example", "bücher.example")
    assert host_matches("BÜCHER.example", "xn--bcher-kva.example")
    assert host_matches("api.example.com.", "api.example.com")
    assert host_matches("*.example.com.", "a.example.com.")
    assert not host_matches("*.example.com", "a.example.com.evil.org")


async def test_a_credential_value_with_a_line_break_is_never_quoted_in_the_error(
    two_ports: tuple[Echo, Echo],
) -> None:
    first, _ = two_ports
    url = f"http://127.0.0.1:{first.port}/echo"
    host = f"127.0.0.1:{first.port}"
    # A pasted value's trailing newline is not part of the secret: it is sent without it.
    pasted = await _send(url, _scoped(host, f"{SECRET}\n"))
    assert pasted == [("response", {"ok": True})] and first.seen == [(first.port, SECRET)]
    injected = await _send(url, _scoped(host, f"{SECRET}\r\nX-Injected: 1"))
    assert injected[0][0] == "error" and "line break" in injected[0][1]
    assert SECRET not in injected[0][1]
    # The request's own header with a line break: refused by httpx, its value not quoted.
    own = await _send(url, _scoped("other.example"), headers={"X-Own": f"{SECRET}\r\nA: b"})
    assert own[0][0] == "error" and "not valid HTTP" in own[0][1] and SECRET not in own[0][1]
    assert len(first.seen) == 1


async def test_an_answer_echoing_the_credential_headers_has_them_blanked_out(
    two_ports: tuple[Echo, Echo],
) -> None:
    first, _ = two_ports
    creds = HostScopedCredentials(
        id="h1",
        provider="http",
        host=f"127.0.0.1:{first.port}",
        headers={"X-API-Key": SecretStr(SECRET), "Authorization": SecretStr(f"Bearer {TOKEN}")},
    )
    got = await _send(f"http://127.0.0.1:{first.port}/echo?mirror=1", creds)
    assert got[0][0] == "response" and first.seen == [(first.port, SECRET)]
    echoed = got[0][1]["headers"]
    assert echoed["x-api-key"] == "[redacted]" and echoed["authorization"] == "[redacted]"
    assert SECRET not in repr(got) and TOKEN not in repr(got)


async def test_a_redirect_to_another_port_of_the_host_drops_the_requests_own_authorization(
    two_ports: tuple[Echo, Echo],
) -> None:
    first, second = two_ports
    hop = f"http://127.0.0.1:{first.port}/echo?to=http://127.0.0.1:{second.port}/echo"
    own = {"Authorization": f"Bearer {TOKEN}", "X-API-Key": "plain-header"}
    got = await _send(hop, _scoped("other.example"), headers=own)
    assert got == [("response", {"ok": True})]
    assert first.authorization == [f"Bearer {TOKEN}"] and second.authorization == [None]
    # A non-sensitive header of the request's own still goes along.
    assert second.seen == [(second.port, "plain-header")]
