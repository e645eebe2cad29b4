"""No secret of a credential ever shows: not in a response of any route, a log line, the
command line's output, an error message, a graph export or the database in the clear."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from autoplat.db.models import Base
from autoplat.errors import AutoplatError
from autoplat.testing import TEST_ENCRYPTION_KEY, TEST_JWT_SECRET, make_settings, running_platform
from tests.support.oauth_server import FakeOAuthProvider
from tests.support.servers import serve

MARK = "GREP-ME"
API_KEY = f"sk-{MARK}-user-api-key"
PASSWORD = f"pw-{MARK}-password"
USERNAME = f"un-{MARK}-username"
HEADER = f"hv-{MARK}-header-value"
SYSTEM_KEY = f"sk-{MARK}-platform-key"
CLIENT_SECRET = f"cs-{MARK}-oauth-client-secret"
POSTED_TOKEN = f"at-{MARK}-posted-access-token"
POSTED_REFRESH = f"rt-{MARK}-posted-refresh-token"


async def _everything(client: httpx.AsyncClient, fake: FakeOAuthProvider) -> list[str]:
    """Create credentials of every kind and call every integrations route; the texts seen."""
    seen: list[str] = []

    async def call(method: str, url: str, **kw: Any) -> httpx.Response:
        response = await client.request(method, url, **kw)
        seen.append(f"{method} {url} {response.status_code} {response.text}")
        return response

    bodies = [
        ("openai", {"type": "api_key", "api_key": API_KEY, "title": "k"}),
        ("smtp", {"type": "user_password", "username": USERNAME, "password": PASSWORD}),
        ("http", {"type": "host_scoped", "host": "h.example", "headers": {"X-Key": HEADER}}),
        (
            "discord",
            {
                "type": "oauth2",
                "access_token": POSTED_TOKEN,
                "refresh_token": POSTED_REFRESH,
                "access_token_expires_at": int(time.time()) - 60,
            },
        ),
    ]
    ids = {}
    for provider, body in bodies:
        ids[provider] = (
            await call("POST", f"/api/integrations/{provider}/credentials", json=body)
        ).json()["id"]
    # An OAuth2 login through the stand-in provider, and its failure modes.
    for provider in ("github", "google"):
        started = (await call("GET", f"/api/integrations/{provider}/login?scopes=a,b")).json()
        # The user's browser (in-process, so that its own debug logs are not the platform's).
        browser_transport = httpx.ASGITransport(app=fake.app())
        async with httpx.AsyncClient(transport=browser_transport) as browser:
            redirect = await browser.get(started["login_url"], follow_redirects=False)
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        body = {"code": code, "state_token": started["state_token"]}
        ids[provider] = (
            await call("POST", f"/api/integrations/{provider}/callback", json=body)
        ).json()["id"]
        await call("POST", f"/api/integrations/{provider}/callback", json=body)  # state used
    await call(
        "POST", "/api/integrations/discord/callback", json={"code": API_KEY, "state_token": "x"}
    )
    await call(
        "POST",
        "/api/integrations/openai/credentials",
        json={"type": "api_key", "api_key": API_KEY, "x": 1},
    )
    for url in (
        "/api/integrations/credentials",
        "/api/integrations/providers?page_size=250",
        "/openapi.json",
    ):
        await call("GET", url)
    for provider, cred_id in ids.items():
        await call("GET", f"/api/integrations/{provider}/credentials")
        await call("GET", f"/api/integrations/{provider}/credentials/{cred_id}")
    # A graph whose node references a credential, exported.
    graph = {
        "graph": {
            "name": "uses a key",
            "nodes": [
                {
                    "id": "n",
                    "block_id": "1ff065e9-88e8-4358-9d82-8dc91f622ba9",
                    "input_default": {
                        "input": "x",
                        "data": {
                            "credentials": {
                                "id": ids["openai"],
                                "provider": "openai",
                                "type": "api_key",
                            }
                        },
                    },
                }
            ],
            "links": [],
        }
    }
    created = (await call("POST", "/api/graphs", json=graph)).json()
    await call("GET", f"/api/graphs/{created['id']}?for_export=true")
    for provider in ("github", "google", "openai", "smtp", "http"):
        await call("DELETE", f"/api/integrations/{provider}/credentials/{ids[provider]}")
    return seen


async def _cli_list(database_url: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path),
        AUTOPLAT_JWT_SECRET=TEST_JWT_SECRET,
        AUTOPLAT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        AUTOPLAT_OPENAI_API_KEY=SYSTEM_KEY,
        AUTOPLAT_LOG_LEVEL="debug",
        AUTOPLAT_LOG_FORMAT="json",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "autoplat",
        "credentials",
        "list",
        "--user",
        "user-a",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert '"provider": "discord"' in out.decode()
    return out.decode() + err.decode()


async def test_no_secret_appears_in_responses_logs_cli_errors_exports_or_the_database(
    autoplat_database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeOAuthProvider(client_secret=CLIENT_SECRET)
    texts: list[str] = []
    async with serve(fake.app()) as url:
        settings = make_settings(
            autoplat_database_url,
            tmp_path,
            log_level="debug",
            openai_api_key=SYSTEM_KEY,
            github_client_id=fake.client_id,
            github_client_secret=CLIENT_SECRET,
            google_client_id=fake.client_id,
            google_client_secret=CLIENT_SECRET,
            discord_client_id=fake.client_id,
            discord_client_secret=CLIENT_SECRET,
            oauth_base_urls={"github": url, "google": url, "discord": url},
        )
        async with running_platform(settings) as (platform, client):
            texts += await _everything(client, fake)
            # The expired OAuth2 credential cannot be refreshed: its error says why, not what.
            discord = next(
                m for m in await platform.credentials.list_meta("user-a") if m.provider == "discord"
            )
            with pytest.raises(AutoplatError) as refused:
                await platform.credentials.resolve("user-a", discord.id)
            assert "could not be refreshed" in refused.value.message
            texts.append(refused.value.message)
            assert any(POSTED_REFRESH in f.get("refresh_token", "") for f in fake.token_forms)
            async with platform.db.session() as session:
                for table in Base.metadata.sorted_tables:
                    texts += [
                        str(tuple(row)) for row in (await session.execute(select(table))).all()
                    ]
            texts.append(
                repr(platform.settings) + repr(platform.credentials.providers.system_credentials())
            )
    texts.append(await _cli_list(autoplat_database_url, tmp_path))
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    assert any("credentials.created" in t for t in texts)  # the logs were captured
    secrets = [
        API_KEY,
        PASSWORD,
        USERNAME,
        HEADER,
        SYSTEM_KEY,
        CLIENT_SECRET,
        POSTED_TOKEN,
        POSTED_REFRESH,
        MARK,
        TEST_ENCRYPTION_KEY,
    ]
    secrets += fake.issued
    leaks = [(s, t[:300]) for t in texts for s in secrets if s in t]
    assert leaks == []
