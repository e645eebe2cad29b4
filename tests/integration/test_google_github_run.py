"""GitHub, Google Sheets and Gmail blocks end to end through the HTTP API (both databases):
a user connects GitHub (through the local OAuth2 server, or with a stored key) and Google
(OAuth2), builds graphs that read an issue and comment on it, and read a sheet, write a row
and send an email; the runs complete with what the local stand-ins of the providers
answered, and an access token that has expired is refreshed before the block's call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from autoplat.platform import Platform
from autoplat.testing import make_settings, running_platform
from tests.support import graphs as tk
from tests.support.google_github import GITHUB_KEY, FakeGoogleGithub, Issue
from tests.support.oauth_server import FakeOAuthProvider
from tests.support.servers import serve

GITHUB_READ_ISSUE = "6443c75d-032a-4772-9c08-230c707c8acc"
GITHUB_COMMENT = "a8db4d8d-db1c-4a25-a1b0-416a8c33602b"
SHEETS_READ = "5724e902-3635-47e9-a108-aaa0263a4988"
SHEETS_WRITE = "d9291e87-301d-47a8-91fe-907fb55460e5"
GMAIL_SEND = "6c27abc2-e51d-499e-a85f-5a0041ba94f0"
ISSUE_URL = "https://github.com/octo/demo/issues/7"
SHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


@dataclass
class Env:
    platform: Platform
    client: httpx.AsyncClient
    oauth: FakeOAuthProvider
    apis: FakeGoogleGithub


@pytest.fixture
def oauth() -> FakeOAuthProvider:
    return FakeOAuthProvider()


@pytest.fixture
async def env(
    oauth: FakeOAuthProvider, autoplat_database_url: str, tmp_path: Path
) -> AsyncIterator[Env]:
    # The APIs accept the stored key and whatever access tokens the OAuth server has live.
    apis = FakeGoogleGithub(accepts=lambda t: t == GITHUB_KEY or t in oauth.live_access)
    apis.issues["octo/demo"] = {7: Issue("Crash on start", "It crashes at boot.", "alice")}
    apis.sheets[SHEET] = {"Scores!A1:B2": [["Name", "Score"], ["Alice", "85"]]}
    apps: dict[str, Any] = {}
    for name in ("github", "google"):
        apps[f"{name}_client_id"] = oauth.client_id
        apps[f"{name}_client_secret"] = oauth.client_secret
    async with serve(oauth.app()) as oauth_url, serve(apis.app()) as api_url:
        settings = make_settings(
            autoplat_database_url,
            tmp_path,
            credits_enabled=False,
            oauth_base_urls={"github": oauth_url, "google": oauth_url},
            provider_base_urls=apis.base_urls(api_url),
            **apps,
        )
        async with running_platform(settings) as (platform, client):
            yield Env(platform, client, oauth, apis)


async def _connect(client: httpx.AsyncClient, provider: str, scopes: str) -> dict[str, str]:
    """Log in with ``provider`` at the local OAuth2 server; the new credential's reference."""
    started = await client.get(f"/api/integrations/{provider}/login", params={"scopes": scopes})
    assert started.status_code == 200, started.text
    login = started.json()
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(login["login_url"], follow_redirects=False)
    assert consent.status_code == 302, consent.text
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    done = await client.post(
        f"/api/integrations/{provider}/callback",
        json={"code": code, "state_token": login["state_token"]},
    )
    assert done.status_code == 200, done.text
    meta = done.json()
    # The provider granted what the login asked for: the scopes the blocks declare.
    assert set(scopes.split(",")) <= set(meta["scopes"])
    return {"id": meta["id"], "provider": provider, "type": "oauth2"}


async def _store_key(client: httpx.AsyncClient) -> dict[str, str]:
    created = await client.post(
        "/api/integrations/github/credentials",
        json={"type": "api_key", "api_key": GITHUB_KEY, "title": "my GitHub token"},
    )
    assert created.status_code in (200, 201), created.text
    return {"id": created.json()["id"], "provider": "github", "type": "api_key"}


def _node(node_id: str, block_id: str, **defaults: Any) -> dict[str, Any]:
    return {"id": node_id, "block_id": block_id, "input_default": defaults}


def _link(source: str, source_name: str, sink: str, sink_name: str) -> dict[str, str]:
    return {
        "source_id": source,
        "sink_id": sink,
        "source_name": source_name,
        "sink_name": sink_name,
    }


def _output(node_id: str, name: str) -> dict[str, Any]:
    return _node(node_id, tk.AGENT_OUTPUT, name=name)


async def _run(env: Env, nodes: list[Any], links: list[Any]) -> Any:
    graph = {"name": "integration run", "nodes": nodes, "links": links}
    created = await env.client.post("/api/graphs", json={"graph": graph})
    assert created.status_code == 200, created.text
    saved = created.json()
    started = await env.client.post(
        f"/api/graphs/{saved['id']}/execute/{saved['version']}", json={"inputs": {}}
    )
    assert started.status_code == 200, started.text
    row = await tk.wait_for_run(env.platform.db, started.json()["id"], timeout=30)
    assert row.status == "COMPLETED", row.error
    kept = json.dumps(row.inputs, default=str) + json.dumps(row.outputs, default=str)
    for secret in (GITHUB_KEY, *env.oauth.issued):
        assert secret not in kept
    return row


def _issue_graph(ref: dict[str, str]) -> tuple[list[Any], list[Any]]:
    nodes = [
        _node("read", GITHUB_READ_ISSUE, issue_url=ISSUE_URL, credentials=ref),
        _node("comment", GITHUB_COMMENT, issue_url=ISSUE_URL, credentials=ref),
        _output("out_title", "title"),
        _output("out_url", "comment_url"),
    ]
    links = [
        _link("read", "title", "comment", "comment"),
        _link("read", "title", "out_title", "value"),
        _link("comment", "url", "out_url", "value"),
    ]
    return nodes, links


@pytest.mark.parametrize("connect", ["oauth", "api_key"])
async def test_a_graph_reads_a_github_issue_and_comments_on_it(env: Env, connect: str) -> None:
    if connect == "oauth":
        ref = await _connect(env.client, "github", "repo")
        token = next(iter(env.oauth.live_access))
    else:
        ref, token = await _store_key(env.client), GITHUB_KEY
    row = await _run(env, *_issue_graph(ref))
    assert row.outputs["title"] == ["Crash on start"]
    assert row.outputs["comment_url"] == ["https://github.com/octo/demo/issues/7#issuecomment-1001"]
    (comment,) = env.apis.issues["octo/demo"][7].comments
    assert comment["body"] == "Crash on start"
    calls = env.apis.seen("github")
    assert [(c.method, c.path) for c in calls] == [
        ("GET", "/github/repos/octo/demo/issues/7"),
        ("POST", "/github/repos/octo/demo/issues/7/comments"),
    ]
    assert {c.auth for c in calls} == {f"Bearer {token}"}


async def test_a_graph_reads_a_sheet_writes_a_row_and_sends_an_email(env: Env) -> None:
    scopes = ",".join(
        [
            "https://www.googleapis.com/auth/spreadsheets.readonly",
            "https://www.googleapis.com/auth/spreadsheets",
            "https://www.googleapis.com/auth/gmail.send",
        ]
    )
    ref = await _connect(env.client, "google", scopes)
    nodes = [
        _node("read", SHEETS_READ, spreadsheet_id=SHEET, range="Scores!A1:B2", credentials=ref),
        _node(
            "write",
            SHEETS_WRITE,
            spreadsheet_id=SHEET,
            range="Scores!A3:B3",
            values=[["Bob", "90"]],
            credentials=ref,
        ),
        _node(
            "send",
            GMAIL_SEND,
            to="team@example.test",
            subject="Scores updated",
            body="Bob scored 90.",
            credentials=ref,
        ),
        _output("out_rows", "rows"),
        _output("out_write", "written"),
        _output("out_sent", "sent"),
    ]
    links = [
        _link("read", "result", "out_rows", "value"),
        _link("write", "result", "out_write", "value"),
        _link("send", "result", "out_sent", "value"),
    ]
    row = await _run(env, nodes, links)
    assert row.outputs["rows"] == [[["Name", "Score"], ["Alice", "85"]]]
    (written,) = row.outputs["written"]
    assert written["updatedCells"] == 2 and written["updatedRange"] == "Scores!A3:B3"
    assert env.apis.sheets[SHEET]["Scores!A3:B3"] == [["Bob", "90"]]
    assert row.outputs["sent"] == [{"id": "sent-1001", "status": "sent"}]
    (mail,) = env.apis.sent
    assert (mail["To"], mail["Subject"]) == ("team@example.test", "Scores updated")
    assert mail.get_content().strip() == "Bob scored 90."


# Tokens granted for 60 s: inside the refresh margin from the start.
@pytest.mark.parametrize("oauth", [FakeOAuthProvider(expires_in=60)], ids=["expires-in-60s"])
async def test_an_expired_google_token_is_refreshed_before_the_block_calls_gmail(
    env: Env,
) -> None:
    ref = await _connect(env.client, "google", "https://www.googleapis.com/auth/gmail.send")
    (first,) = env.oauth.live_access
    # Google no longer takes the first token: only a refreshed one gets through.
    env.oauth.live_access.discard(first)
    env.oauth.expires_in = 3600
    nodes = [
        _node("send", GMAIL_SEND, to="a@example.test", subject="s", body="b", credentials=ref),
        _output("out", "sent"),
    ]
    row = await _run(env, nodes, [_link("send", "result", "out", "value")])
    assert row.outputs["sent"] == [{"id": "sent-1001", "status": "sent"}]
    assert env.oauth.refreshes == 1
    (call,) = env.apis.seen("gmail")
    assert call.auth.startswith("Bearer ") and call.auth != f"Bearer {first}"
    assert call.auth.removeprefix("Bearer ") in env.oauth.live_access
