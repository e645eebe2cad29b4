"""Users' credentials over HTTP: stored encrypted, shown without secrets, scoped to their user,
platform credentials offered to everyone, providers listed with what they accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from autoplat.db.models import Credential
from autoplat.platform import Platform
from autoplat.testing import client_for, make_settings, running_platform

OPENAI_SYSTEM_ID = "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a"
ANTHROPIC_SYSTEM_ID = "24e5d942-d9e3-4798-8151-90143ee55629"


async def _create(client: httpx.AsyncClient, provider: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/api/integrations/{provider}/credentials", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_api_key_is_stored_encrypted_and_shown_without_its_secret(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    secret = "sk-stored-encrypted-4f1c"
    created = await _create(
        autoplat_client,
        "openai",
        {"type": "api_key", "api_key": secret, "title": "mine", "expires_at": 4102444800},
    )
    assert created["provider"] == "openai" and created["type"] == "api_key"
    assert created["title"] == "mine" and created["is_system"] is False
    assert created["expires_at"].startswith("2100-01-01")
    assert "api_key" not in created and secret not in str(created)

    async with autoplat_platform.db.session() as session:
        row = (await session.execute(select(Credential))).scalar_one()
    assert row.user_id == "user-a" and secret not in row.secret and secret not in str(row.meta)

    got = await autoplat_client.get(f"/api/integrations/openai/credentials/{created['id']}")
    assert got.status_code == 200 and got.json() == created
    listed = (await autoplat_client.get("/api/integrations/openai/credentials")).json()
    assert [c["id"] for c in listed["items"]] == [created["id"]]
    resolved = await autoplat_platform.credentials.resolve("user-a", created["id"])
    assert resolved.type == "api_key" and resolved.api_key.get_secret_value() == secret  # type: ignore[union-attr]


async def test_every_type_round_trips_and_lists_across_providers(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    password = await _create(
        autoplat_client, "smtp", {"type": "user_password", "username": "me", "password": "pw-1"}
    )
    headers = await _create(
        autoplat_client,
        "http",
        {"type": "host_scoped", "host": "api.example.com", "headers": {"X-Key": "hv-2"}},
    )
    tokens = await _create(
        autoplat_client,
        "github",
        {"type": "oauth2", "access_token": "gho-3", "scopes": ["repo"], "username": "octo"},
    )
    assert password["username"] is None  # a password's user name is secret too
    assert headers["host"] == "api.example.com"
    assert tokens["scopes"] == ["repo"] and tokens["username"] == "octo"

    everything = (await autoplat_client.get("/api/integrations/credentials")).json()
    assert {c["id"] for c in everything["items"]} == {password["id"], headers["id"], tokens["id"]}
    assert everything["pagination"]["total_items"] == 3
    for text in ("pw-1", "hv-2", "gho-3"):
        assert text not in str(everything)
    user_pw = await autoplat_platform.credentials.resolve("user-a", password["id"])
    assert user_pw.password.get_secret_value() == "pw-1"  # type: ignore[union-attr]
    host = await autoplat_platform.credentials.resolve(
        "user-a", {"id": headers["id"], "provider": "http", "type": "host_scoped"}
    )
    assert host.headers["X-Key"].get_secret_value() == "hv-2"  # type: ignore[union-attr]


async def test_another_users_credential_is_exactly_like_a_missing_one(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    mine = await _create(autoplat_client, "openai", {"type": "api_key", "api_key": "sk-a"})
    async with client_for(autoplat_platform, "user-b") as other:
        for method in ("GET", "DELETE"):
            foreign = await other.request(
                method, f"/api/integrations/openai/credentials/{mine['id']}"
            )
            missing = await other.request(
                method, "/api/integrations/openai/credentials/00000000-0000-4000-8000-000000000000"
            )
            assert foreign.status_code == missing.status_code == 404
            assert foreign.json()["error"]["code"] == missing.json()["error"]["code"]
            assert mine["id"] in foreign.json()["error"]["message"]  # the id asked, nothing else
        listed = (await other.get("/api/integrations/credentials")).json()
        assert mine["id"] not in str(listed)
    # Under another provider's path it is not found either.
    wrong = await autoplat_client.get(f"/api/integrations/anthropic/credentials/{mine['id']}")
    assert wrong.status_code == 404
    assert (
        await autoplat_client.get(f"/api/integrations/openai/credentials/{mine['id']}")
    ).status_code == 200


async def test_deleting_removes_the_credential_and_answers_like_autogpt(
    autoplat_client: httpx.AsyncClient,
) -> None:
    created = await _create(autoplat_client, "openai", {"type": "api_key", "api_key": "sk-del"})
    url = f"/api/integrations/openai/credentials/{created['id']}"
    deleted = await autoplat_client.delete(url)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True, "revoked": None}
    assert (await autoplat_client.get(url)).status_code == 404
    assert (await autoplat_client.delete(url)).status_code == 404


async def test_platform_credentials_are_offered_to_every_user_but_never_shown_or_deleted(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    operator_key = "sk-operator-platform-key-77"
    settings = make_settings(
        autoplat_database_url,
        tmp_path,
        openai_api_key=operator_key,
        ollama_host="http://127.0.0.1:1",
    )
    async with running_platform(settings) as (platform, client):
        listed = (await client.get("/api/integrations/credentials")).json()["items"]
        system = {c["provider"]: c for c in listed if c["is_system"]}
        assert set(system) == {"openai", "ollama"}
        assert system["openai"]["id"] == OPENAI_SYSTEM_ID  # AutoGPT's id: imported agents match
        assert system["openai"]["title"] == "Use Credits for OpenAI"
        async with client_for(platform, "user-b") as other:
            theirs = (await other.get("/api/integrations/openai/credentials")).json()["items"]
            assert [c["id"] for c in theirs] == [OPENAI_SYSTEM_ID]
            one = await other.get(f"/api/integrations/openai/credentials/{OPENAI_SYSTEM_ID}")
            assert one.status_code == 200 and one.json()["is_system"] is True
            refused = await other.delete(f"/api/integrations/openai/credentials/{OPENAI_SYSTEM_ID}")
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "system_credentials_read_only"
        # Not configured: not offered, and not found.
        absent = await client.get(f"/api/integrations/anthropic/credentials/{ANTHROPIC_SYSTEM_ID}")
        assert absent.status_code == 404
        resolved = await platform.credentials.resolve("user-b", OPENAI_SYSTEM_ID)
        assert resolved.is_system and resolved.api_key.get_secret_value() == operator_key  # type: ignore[union-attr]
        assert operator_key not in str(listed)


async def test_a_page_of_credentials_puts_platform_ones_first(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        autoplat_database_url, tmp_path, openai_api_key="sk-1", anthropic_api_key="sk-2"
    )
    async with running_platform(settings) as (_, client):
        own = [
            (await _create(client, "groq", {"type": "api_key", "api_key": f"k{i}"}))["id"]
            for i in range(3)
        ]
        pages = [
            (
                await client.get(
                    "/api/integrations/credentials", params={"page": n, "page_size": 2}
                )
            ).json()
            for n in (1, 2, 3)
        ]
    ids = [c["id"] for page in pages for c in page["items"]]
    assert [c["is_system"] for p in pages for c in p["items"]] == [True, True, False, False, False]
    assert ids[2:] == own and pages[0]["pagination"]["total_items"] == 5
    assert pages[2]["pagination"]["total_pages"] == 3


async def test_bad_bodies_and_unknown_providers_are_refused_naming_the_problem(
    autoplat_client: httpx.AsyncClient,
) -> None:
    unknown = await autoplat_client.post(
        "/api/integrations/no-such-provider/credentials", json={"type": "api_key", "api_key": "k"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "provider_not_found"
    wrong_type = await autoplat_client.post(
        "/api/integrations/openai/credentials",
        json={"type": "user_password", "username": "u", "password": "p"},
    )
    assert wrong_type.status_code == 422 and "api_key" in wrong_type.json()["error"]["message"]
    empty = await autoplat_client.post(
        "/api/integrations/openai/credentials", json={"type": "api_key", "api_key": ""}
    )
    assert empty.status_code == 422
    assert empty.json()["error"]["details"][0]["field"].startswith("body.api_key")
    extra = await autoplat_client.post(
        "/api/integrations/openai/credentials",
        json={"type": "api_key", "api_key": "k", "is_system": True},
    )
    assert extra.status_code == 422
    # A client-chosen id is ignored: ids are the server's.
    chosen = await _create(
        autoplat_client, "openai", {"type": "api_key", "api_key": "k", "id": OPENAI_SYSTEM_ID}
    )
    assert chosen["id"] != OPENAI_SYSTEM_ID and chosen["is_system"] is False


async def test_a_refused_credential_names_its_field_as_the_body_spells_it_without_the_type_tag(
    autoplat_client: httpx.AsyncClient,
) -> None:
    url = "/api/integrations/openai/credentials"
    cases = [
        ({"type": "api_key"}, "body.api_key", "missing"),
        ({"type": "api_key", "api_key": 5}, "body.api_key", "string_type"),
        ({"type": "host_scoped", "host": ""}, "body.host", "string_too_short"),
        ({"type": "oauth2", "access_token": "t", "scopes": [1]}, "body.scopes.0", "string_type"),
    ]
    for body, field, kind in cases:
        refused = await autoplat_client.post(url, json=body)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert [(d["field"], d["type"]) for d in error["details"]] == [(field, kind)], body
        assert error["message"].startswith(f"{field}: "), error["message"]


async def test_providers_are_listed_with_types_and_oauth_availability(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        autoplat_database_url,
        tmp_path,
        github_client_id="gh-id",
        github_client_secret="gh-secret",
        groq_api_key="gk",
    )
    async with running_platform(settings) as (_, client):
        page = (await client.get("/api/integrations/providers", params={"page_size": 250})).json()
    providers = {p["name"]: p for p in page["items"]}
    assert {"openai", "anthropic", "groq", "ollama", "github", "google", "discord"} <= set(
        providers
    )
    assert providers["github"]["oauth"] and providers["github"]["oauth_configured"]
    assert providers["google"]["oauth"] and not providers["google"]["oauth_configured"]
    assert providers["google"]["credentials_types"] == ["oauth2"]
    assert providers["openai"] == {
        "name": "openai",
        "title": "OpenAI",
        "credentials_types": ["api_key"],
        "oauth": False,
        "oauth_configured": False,
        "system_credentials": False,
        "default_scopes": [],
    }
    assert providers["groq"]["system_credentials"] is True
    assert "gh-secret" not in str(page)


async def test_api_keys_need_the_integration_permissions(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    created = (
        await autoplat_client.post(
            "/api/api-keys", json={"name": "ro", "permissions": ["READ_INTEGRATIONS"]}
        )
    ).json()
    async with httpx.AsyncClient(
        base_url=autoplat_platform.url, headers={"X-API-Key": created["plain_text_key"]}
    ) as keyed:
        assert (await keyed.get("/api/integrations/credentials")).status_code == 200
        denied = await keyed.post(
            "/api/integrations/openai/credentials", json={"type": "api_key", "api_key": "k"}
        )
        assert denied.status_code == 403 and "MANAGE_INTEGRATIONS" in denied.text
        gone = await keyed.delete("/api/integrations/openai/credentials/x")
        assert gone.status_code == 403 and "DELETE_INTEGRATIONS" in gone.text
