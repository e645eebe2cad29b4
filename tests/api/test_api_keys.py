"""API keys over HTTP: created once, authenticate by X-API-Key, scoped, revoked, suspended."""

from __future__ import annotations

from typing import Any

import httpx

from autoplat.platform import Platform


async def _create(client: httpx.AsyncClient, *permissions: str, name: str = "k") -> dict[str, Any]:
    response = await client.post(
        "/api/api-keys", json={"name": name, "permissions": list(permissions)}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _key_client(platform: Platform, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=platform.url, headers={"X-API-Key": secret})


async def test_create_shows_secret_once_and_stores_only_a_hash(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    created = await _create(autoplat_client, "READ_GRAPH", "IDENTITY", name="ci")
    secret = created["plain_text_key"]
    key = created["api_key"]
    assert secret.startswith("agpt_") and len(secret) == 48
    assert key["status"] == "ACTIVE"
    assert key["permissions"] == ["IDENTITY", "READ_GRAPH"]
    assert secret.startswith(key["prefix"]) and secret.endswith(key["tail"])
    assert key["prefix"].startswith(key["head"]) and len(key["head"]) < len(key["prefix"])

    row = await autoplat_platform.db.api_keys.get("user-a", key["id"])
    assert row is not None and secret not in (row.hash, row.salt, row.prefix + row.tail)
    listed = (await autoplat_client.get("/api/api-keys")).json()
    assert "plain_text_key" not in str(listed) and secret not in str(listed)
    assert [k["id"] for k in listed["items"]] == [key["id"]]
    assert listed["pagination"]["total_items"] == 1
    got = (await autoplat_client.get(f"/api/api-keys/{key['id']}")).json()
    assert got["name"] == "ci" and secret not in str(got)


async def test_key_authenticates_as_its_user_with_only_its_permissions(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    created = await _create(autoplat_client, "IDENTITY")
    async with _key_client(autoplat_platform, created["plain_text_key"]) as key_client:
        me = await key_client.post("/api/auth/user")
        assert me.status_code == 200 and me.json()["id"] == "user-a"
        # MANAGE_API_KEYS is not granted: a key cannot list (or mint) keys.
        denied = await key_client.get("/api/api-keys")
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "permission_denied"
        assert "MANAGE_API_KEYS" in denied.json()["error"]["message"]


async def test_wrong_or_malformed_keys_are_401(autoplat_platform: Platform) -> None:
    for secret in ("nonsense", "agpt_" + "A" * 43, "agpt_", ""):
        async with _key_client(autoplat_platform, secret) as client:
            response = await client.post("/api/auth/user")
            assert response.status_code == 401, secret
            assert response.json()["error"]["code"] == "not_authenticated"


async def test_a_key_whose_secret_differs_after_the_prefix_is_refused(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    secret = (await _create(autoplat_client, "IDENTITY"))["plain_text_key"]
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    async with _key_client(autoplat_platform, forged) as client:
        assert (await client.post("/api/auth/user")).status_code == 401
    async with _key_client(autoplat_platform, secret) as client:
        assert (await client.post("/api/auth/user")).status_code == 200


async def test_revoke_and_suspend_stop_the_key_at_once(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    first = await _create(autoplat_client, "IDENTITY", name="one")
    second = await _create(autoplat_client, "IDENTITY", name="two")
    async with (
        _key_client(autoplat_platform, first["plain_text_key"]) as one,
        _key_client(autoplat_platform, second["plain_text_key"]) as two,
    ):
        assert (await one.post("/api/auth/user")).status_code == 200
        assert (await two.post("/api/auth/user")).status_code == 200

        revoked = await autoplat_client.delete(f"/api/api-keys/{first['api_key']['id']}")
        assert revoked.status_code == 200 and revoked.json()["status"] == "REVOKED"
        assert revoked.json()["revoked_at"] is not None
        answer = await one.post("/api/auth/user")
        assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]

        suspended = await autoplat_client.post(f"/api/api-keys/{second['api_key']['id']}/suspend")
        assert suspended.status_code == 200 and suspended.json()["status"] == "SUSPENDED"
        answer = await two.post("/api/auth/user")
        assert answer.status_code == 401 and "suspended" in answer.json()["error"]["message"]

    again = await autoplat_client.post(f"/api/api-keys/{first['api_key']['id']}/suspend")
    assert again.status_code == 409
    change = await autoplat_client.put(
        f"/api/api-keys/{first['api_key']['id']}/permissions", json={"permissions": ["READ_GRAPH"]}
    )
    assert change.status_code == 409


async def test_permissions_can_be_replaced(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    created = await _create(autoplat_client, "IDENTITY")
    key_id = created["api_key"]["id"]
    async with _key_client(autoplat_platform, created["plain_text_key"]) as key_client:
        assert (await key_client.get("/api/api-keys")).status_code == 403
        response = await autoplat_client.put(
            f"/api/api-keys/{key_id}/permissions",
            json={"permissions": ["MANAGE_API_KEYS", "IDENTITY", "IDENTITY"]},
        )
        assert response.status_code == 200, response.text
        assert response.json()["permissions"] == ["IDENTITY", "MANAGE_API_KEYS"]
        assert (await key_client.get("/api/api-keys")).status_code == 200


async def test_bad_create_bodies_name_the_field(autoplat_client: httpx.AsyncClient) -> None:
    cases: list[tuple[Any, str]] = [
        ({"name": "x", "permissions": ["FLY"]}, "body.permissions.0"),
        ({"name": "", "permissions": ["IDENTITY"]}, "body.name"),
        ({"name": "x", "permissions": []}, "body.permissions"),
        ({"name": "x", "permissions": ["IDENTITY"], "colour": "red"}, "body.colour"),
        ({"permissions": ["IDENTITY"]}, "body.name"),
    ]
    for body, field in cases:
        response = await autoplat_client.post("/api/api-keys", json=body)
        assert response.status_code == 422, (body, response.text)
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert field in fields, (body, fields)


async def test_unknown_key_id_is_404(autoplat_client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/api-keys/nope"),
        ("DELETE", "/api/api-keys/nope"),
        ("POST", "/api/api-keys/nope/suspend"),
    ):
        response = await autoplat_client.request(method, path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "api_key_not_found"


async def test_pagination_of_keys(autoplat_client: httpx.AsyncClient) -> None:
    for index in range(3):
        await _create(autoplat_client, "IDENTITY", name=f"k{index}")
    page = (await autoplat_client.get("/api/api-keys?page=2&page_size=2")).json()
    assert len(page["items"]) == 1
    assert page["pagination"] == {
        "total_items": 3,
        "total_pages": 2,
        "current_page": 2,
        "page_size": 2,
    }
