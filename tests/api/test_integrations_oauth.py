"""OAuth2 logins against a local provider started by the test: state and PKCE, code exchange,
refresh before expiry (once at a time across processes), revocation, unconfigured providers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.models import OAuthState
from autoplat.db.types import utcnow
from autoplat.errors import CredentialsRefreshFailed
from autoplat.integrations.model import OAuth2Credentials
from autoplat.integrations.service import CredentialsService
from autoplat.platform import Platform
from autoplat.testing import client_for, make_settings, running_platform
from tests.support.oauth_server import FakeOAuthProvider
from tests.support.servers import serve


def _oauth_settings(url: str, fake: FakeOAuthProvider, database_url: str, tmp: Path) -> Settings:
    apps: dict[str, Any] = {}
    for name in ("github", "google", "discord"):
        apps[f"{name}_client_id"] = fake.client_id
        apps[f"{name}_client_secret"] = fake.client_secret
    bases = {name: url for name in ("github", "google", "discord")}
    return make_settings(database_url, tmp, oauth_base_urls=bases, **apps)


@asynccontextmanager
async def _oauth_platform(
    fake: FakeOAuthProvider, database_url: str, tmp: Path
) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    async with (
        serve(fake.app()) as url,
        running_platform(_oauth_settings(url, fake, database_url, tmp)) as running,
    ):
        yield running


async def _login(client: httpx.AsyncClient, provider: str, scopes: str = "") -> dict[str, Any]:
    """Start a login, let the provider 'authorize' it; the code and state it sends back."""
    started = await client.get(f"/api/integrations/{provider}/login", params={"scopes": scopes})
    assert started.status_code == 200, started.text
    body: dict[str, Any] = started.json()
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(body["login_url"], follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    assert back.path == "/auth/integrations/oauth_callback"
    assert query["state"] == body["state_token"]
    return {**body, "code": query["code"], "query": parse_qs(urlsplit(body["login_url"]).query)}


async def _callback(
    client: httpx.AsyncClient, provider: str, login: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/integrations/{provider}/callback",
        json={"code": login["code"], "state_token": login["state_token"]},
    )


async def test_a_github_login_stores_the_tokens_the_provider_grants(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider(expires_in=None)  # GitHub's default: tokens never expire
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (platform, client):
        login = await _login(client, "github", "repo,gist")
        assert login["query"]["scope"] == ["repo gist"] and "code_challenge" not in login["query"]
        done = await _callback(client, "github", login)
        assert done.status_code == 200, done.text
        meta = done.json()
        assert meta["type"] == "oauth2" and meta["provider"] == "github"
        assert meta["username"] == "octo-tester" and meta["scopes"] == ["repo", "gist"]
        credentials = await platform.credentials.resolve("user-a", meta["id"])
        assert isinstance(credentials, OAuth2Credentials)
        assert credentials.access_token.get_secret_value() in fake.live_access
        # A state works once.
        again = await _callback(client, "github", login)
        assert again.status_code == 400 and again.json()["error"]["code"] == "oauth_error"


@pytest.mark.parametrize("provider", ["google", "discord"])
async def test_google_and_discord_logins_use_pkce_and_default_scopes(
    provider: str, autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider()
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (_, client):
        login = await _login(client, provider)
        query = login["query"]
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        if provider == "google":
            assert "openid" in query["scope"][0].split() and query["access_type"] == ["offline"]
        else:
            assert query["scope"] == ["identify"]
        done = await _callback(client, provider, login)
        assert done.status_code == 200, done.text
        # The provider checked the verifier against the challenge (it refuses a wrong one).
        assert fake.token_forms[-1]["code_verifier"] and fake.grants == ["authorization_code"]


async def test_a_state_belongs_to_one_user_and_provider_and_expires(
    autoplat_platform: Platform, autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider()
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (platform, client):
        login = await _login(client, "github")
        async with client_for(platform, "user-b") as other:
            stolen = await _callback(other, "github", login)
            assert stolen.status_code == 400 and "state" in stolen.json()["error"]["message"]
        assert (await _callback(client, "discord", login)).status_code == 400
        async with platform.db.begin() as conn:
            await conn.execute(update(OAuthState).values(expires_at=utcnow()))
        expired = await _callback(client, "github", login)
        assert expired.status_code == 400 and fake.grants == []


async def test_a_code_the_provider_refuses_is_a_400_without_secrets(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider()
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (_, client):
        login = await _login(client, "google")
        fake.codes.clear()  # the code is no longer valid at the provider
        refused = await _callback(client, "google", login)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "oauth_error" and "invalid_grant" in error["message"]
    assert fake.client_secret not in refused.text and login["code"] not in refused.text


async def test_an_unconfigured_provider_is_listed_unavailable_and_its_login_says_so(
    autoplat_client: httpx.AsyncClient,
) -> None:
    login = await autoplat_client.get("/api/integrations/github/login")
    assert login.status_code == 409
    error = login.json()["error"]
    assert (
        error["code"] == "provider_not_configured"
        and "AUTOPLAT_GITHUB_CLIENT_ID" in error["message"]
    )
    callback = await autoplat_client.post(
        "/api/integrations/github/callback", json={"code": "c", "state_token": "s"}
    )
    assert callback.status_code == 409
    no_oauth = await autoplat_client.get("/api/integrations/openai/login")
    assert no_oauth.status_code == 404 and "OAuth" in no_oauth.json()["error"]["message"]
    providers = (
        await autoplat_client.get("/api/integrations/providers", params={"page_size": 250})
    ).json()
    github = next(p for p in providers["items"] if p["name"] == "github")
    assert github["oauth"] is True and github["oauth_configured"] is False


async def test_tokens_about_to_expire_are_refreshed_before_use(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider(expires_in=60)  # inside the five-minute margin
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (platform, client):
        meta = (await _callback(client, "discord", await _login(client, "discord"))).json()
        granted = set(fake.live_access)
        fake.expires_in = 3600
        fresh = await platform.credentials.resolve("user-a", meta["id"])
        assert isinstance(fresh, OAuth2Credentials)
        assert fake.refreshes == 1 and fresh.access_token.get_secret_value() not in granted
        assert fresh.id == meta["id"] and fresh.username == "octo-tester"
        assert fresh.access_token_expires_at and fresh.access_token_expires_at > time.time() + 3000
        # Stored: the next use needs no refresh.
        again = await platform.credentials.resolve("user-a", meta["id"])
        assert again == fresh and fake.refreshes == 1


async def test_one_refresh_at_a_time_across_processes(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider(expires_in=60, refresh_delay=0.3)
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (platform, client):
        meta = (await _callback(client, "google", await _login(client, "google"))).json()
        fake.expires_in = 3600
        # Two more "processes": their own database connections and services.
        others = [DatabaseManager(platform.settings) for _ in range(2)]
        services = []
        for db in others:
            await db.connect()
            services.append(CredentialsService(platform.settings, db, platform.blocks))
        try:
            everyone = [platform.credentials, *services]
            results = await asyncio.gather(
                *(s.resolve("user-a", meta["id"]) for s in everyone for _ in range(4))
            )
        finally:
            for service, db in zip(services, others, strict=True):
                await service.aclose()
                await db.disconnect()
    assert fake.refresh_attempts == 1
    tokens = {r.access_token.get_secret_value() for r in results}  # type: ignore[union-attr]
    assert len(tokens) == 1 and tokens <= fake.live_access


async def test_a_refused_refresh_keeps_valid_tokens_and_fails_expired_ones(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider(expires_in=60)
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (platform, client):
        meta = (await _callback(client, "discord", await _login(client, "discord"))).json()
        fake.live_refresh.clear()  # the provider no longer honours the refresh token
        still = await platform.credentials.resolve("user-a", meta["id"])
        assert isinstance(still, OAuth2Credentials) and fake.refreshes == 0
        expired = await client.post(
            "/api/integrations/discord/credentials",
            json={
                "type": "oauth2",
                "access_token": "old-access-secret",
                "refresh_token": "dead-refresh-secret",
                "access_token_expires_at": int(time.time()) - 10,
            },
        )
        with pytest.raises(CredentialsRefreshFailed) as caught:
            await platform.credentials.resolve("user-a", expired.json()["id"])
    assert "log in with discord again" in caught.value.message
    assert "dead-refresh-secret" not in caught.value.message  # the provider echoed it


async def test_deleting_oauth_credentials_revokes_their_tokens(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeOAuthProvider()
    async with _oauth_platform(fake, autoplat_database_url, tmp_path) as (platform, client):
        for provider in ("github", "google", "discord"):
            meta = (await _callback(client, provider, await _login(client, provider))).json()
            token = (await platform.credentials.resolve("user-a", meta["id"])).access_token  # type: ignore[union-attr]
            deleted = await client.delete(f"/api/integrations/{provider}/credentials/{meta['id']}")
            assert deleted.json() == {"deleted": True, "revoked": True}
            assert fake.revoked[-1] == token.get_secret_value()
