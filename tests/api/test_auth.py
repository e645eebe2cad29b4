"""Bearer JWTs (HS256, RS256, ES256), users on first sight, admin role, local mode, user routes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from autoplat.platform import Platform
from autoplat.testing import client_for, make_settings, make_token, running_platform


def _bearer(platform: Platform, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=platform.url, headers={"Authorization": f"Bearer {token}"})


async def test_first_request_creates_the_user(autoplat_platform: Platform) -> None:
    assert await autoplat_platform.db.users.get("newcomer") is None
    async with client_for(autoplat_platform, "newcomer") as client:
        response = await client.post("/api/auth/user")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "newcomer" and body["email"] == "newcomer@example.test"
    assert body["role"] == "user" and body["timezone"] == "not-set"
    assert await autoplat_platform.db.users.get("newcomer") is not None


async def test_two_users_with_the_same_email_both_get_in(autoplat_platform: Platform) -> None:
    for sub in ("twin-1", "twin-2"):
        claims = {"sub": sub, "email": "same@example.test", "exp": _in_an_hour()}
        token = jwt.encode(claims, _secret(autoplat_platform))
        async with _bearer(autoplat_platform, token) as client:
            response = await client.post("/api/auth/user")
            assert response.status_code == 200, response.text
            assert response.json()["id"] == sub


def _secret(platform: Platform) -> str:
    return platform.settings.jwt_secret.get_secret_value()


def _in_an_hour() -> int:
    return int(time.time()) + 3600


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "user"},  # no sub
        {"sub": ""},
        {"sub": "x" * 65},
        {"sub": 42},
        {"sub": "a\x00b"},
        {"sub": "u", "exp": int(time.time()) - 60},
        {"sub": "u", "exp": int(time.time()) + 3600, "nbf": int(time.time()) + 3600},
        {"sub": "u"},  # no exp: it would be valid forever
        {"sub": "u", "exp": "tomorrow"},
    ],
)
async def test_invalid_tokens_are_401(autoplat_platform: Platform, claims: dict[str, Any]) -> None:
    token = jwt.encode(claims, _secret(autoplat_platform))
    async with _bearer(autoplat_platform, token) as client:
        response = await client.post("/api/auth/user")
    assert response.status_code == 401, claims
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_wrong_secret_and_wrong_algorithm_are_401(autoplat_platform: Platform) -> None:
    claims = {"sub": "u", "exp": _in_an_hour()}
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-for-hs256!!")
    none_alg = jwt.encode(claims, "", algorithm="none")
    for token in (forged, none_alg):
        async with _bearer(autoplat_platform, token) as client:
            assert (await client.post("/api/auth/user")).status_code == 401


async def test_admin_routes_need_the_admin_role(autoplat_platform: Platform) -> None:
    async with client_for(autoplat_platform, "plain") as plain:
        response = await plain.get("/api/admin/users")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    async with client_for(autoplat_platform, "boss", role="admin") as admin:
        users = (await admin.get("/api/admin/users")).json()
        assert {u["id"] for u in users["items"]} == {"plain", "boss"}
        assert (await admin.get("/api/admin/users/plain")).json()["role"] == "user"
        assert (await admin.get("/api/admin/users/nobody")).status_code == 404


def _pem_pair(kind: str) -> tuple[Any, str]:
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_public_key_tokens(
    autoplat_database_url: str, tmp_path: Path, algorithm: str
) -> None:
    private, public = _pem_pair(algorithm)
    settings = make_settings(
        autoplat_database_url,
        tmp_path,
        jwt_secret="",
        jwt_public_key=public,
        jwt_audience="autoplat",
    )
    async with running_platform(settings) as (platform, _):
        claims = {"sub": "pk-user", "aud": "autoplat", "exp": _in_an_hour()}
        good = jwt.encode(claims, private, algorithm=algorithm)
        async with _bearer(platform, good) as client:
            response = await client.post("/api/auth/user")
            assert response.status_code == 200 and response.json()["id"] == "pk-user"
        wrong_aud = jwt.encode({**claims, "aud": "other"}, private, algorithm=algorithm)
        # An HS256 token "signed" with the public key text must not pass (algorithm confusion).
        confused = make_token("pk-user", secret="x" * 32)
        for token in (wrong_aud, confused):
            async with _bearer(platform, token) as client:
                assert (await client.post("/api/auth/user")).status_code == 401


async def test_local_mode_acts_as_the_local_admin(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(autoplat_database_url, tmp_path, jwt_secret="")
    async with (
        running_platform(settings) as (platform, _),
        httpx.AsyncClient(base_url=platform.url) as anonymous,
    ):
        me = (await anonymous.post("/api/auth/user")).json()
        assert me["id"] == "local" and me["role"] == "admin"
        assert (await anonymous.get("/api/admin/users")).status_code == 200
        # Bearer tokens mean nothing without a configured key: refuse rather than guess.
        token = make_token("someone")
        async with _bearer(platform, token) as bearer:
            assert (await bearer.post("/api/auth/user")).status_code == 401
        # API keys work in local mode too, with their own permissions.
        created = await anonymous.post(
            "/api/api-keys", json={"name": "cli", "permissions": ["IDENTITY"]}
        )
        secret = created.json()["plain_text_key"]
        async with httpx.AsyncClient(base_url=platform.url, headers={"X-API-Key": secret}) as keyed:
            assert (await keyed.post("/api/auth/user")).json()["id"] == "local"
            assert (await keyed.get("/api/admin/users")).status_code == 403


async def test_timezone_round_trip(autoplat_client: httpx.AsyncClient) -> None:
    assert (await autoplat_client.get("/api/auth/user/timezone")).json() == {"timezone": "not-set"}
    response = await autoplat_client.post(
        "/api/auth/user/timezone", json={"timezone": "Europe/Berlin"}
    )
    assert response.json() == {"timezone": "Europe/Berlin"}
    assert (await autoplat_client.get("/api/auth/user/timezone")).json()["timezone"] == (
        "Europe/Berlin"
    )
    for bad in ("Mars/Olympus", "../../etc/passwd", ""):
        response = await autoplat_client.post("/api/auth/user/timezone", json={"timezone": bad})
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["field"] == "body.timezone"


async def test_preferences_round_trip(autoplat_client: httpx.AsyncClient) -> None:
    empty = (await autoplat_client.get("/api/auth/user/preferences")).json()
    assert empty == {"user_id": "user-a", "email": None, "preferences": {}, "daily_limit": 10}
    wanted = {
        "email": "a@example.test",
        "preferences": {"LOW_BALANCE": True, "ZERO_BALANCE": False},
        "daily_limit": 3,
    }
    response = await autoplat_client.post("/api/auth/user/preferences", json=wanted)
    assert response.status_code == 200
    assert (await autoplat_client.get("/api/auth/user/preferences")).json() == {
        "user_id": "user-a",
        **wanted,
    }
    response = await autoplat_client.post(
        "/api/auth/user/preferences", json={"preferences": {"low balance": True}}
    )
    assert response.status_code == 422
    response = await autoplat_client.post("/api/auth/user/preferences", json={"daily_limit": -1})
    assert response.json()["error"]["details"][0]["field"] == "body.daily_limit"


async def test_an_invalid_credential_is_refused_even_beside_a_valid_one(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    created = await autoplat_client.post(
        "/api/api-keys", json={"name": "k", "permissions": ["IDENTITY"]}
    )
    key = created.json()["plain_text_key"]
    url = autoplat_platform.url
    good_bearer = f"Bearer {make_token('user-a')}"
    cases = {
        "bad bearer, good key": {"Authorization": "Bearer not-a-jwt", "X-API-Key": key},
        "expired bearer, good key": {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "user-a", "exp": 1}, _secret(autoplat_platform)),
            "X-API-Key": key,
        },
        "not a bearer, good key": {"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": key},
        "good bearer, bad key": {"Authorization": good_bearer, "X-API-Key": "agpt_nope"},
        "good key of another user's bearer": {
            "Authorization": f"Bearer {make_token('someone-else')}",
            "X-API-Key": key,
        },
    }
    for case, headers in cases.items():
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            response = await client.post("/api/auth/user")
        assert response.status_code == 401, case
        assert response.json()["error"]["code"] == "not_authenticated"
    # Both valid and naming the same user: the key (and its narrower permissions) is used.
    both = {"Authorization": good_bearer, "X-API-Key": key}
    async with httpx.AsyncClient(base_url=url, headers=both) as client:
        assert (await client.post("/api/auth/user")).json()["id"] == "user-a"
        assert (await client.get("/api/graphs")).status_code == 403  # no READ_GRAPH
