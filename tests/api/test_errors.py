"""Bad requests of every kind get a 4xx JSON error naming the problem, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autoplat import errors
from autoplat.api.errors import error_response
from autoplat.platform import Platform
from autoplat.testing import make_settings, running_platform

KEYS = "/api/api-keys"
TIMEZONE = "/api/auth/user/timezone"


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


def _fields(error: dict[str, Any]) -> list[str]:
    return [d.get("field") for d in error["details"]]


def _every_error_class() -> list[type[errors.AutoplatError]]:
    found, todo = [], [errors.AutoplatError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_maps_to_its_status_and_code() -> None:
    statuses = set()
    for cls in _every_error_class():
        response = error_response(cls("boom"))
        assert response.status_code == cls.status, cls
        assert cls.code and cls.code.islower(), cls
        statuses.add(cls.status)
    assert {400, 401, 402, 403, 404, 409, 413, 422, 429} <= statuses


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"name": "k", "permissions": ["IDENTITY"]', "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b'{"name": NaN, "permissions": ["IDENTITY"]}', "NaN"),
        (b'{"name": Infinity}', "Infinity"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"name": ' + b"[" * 200 + b"]" * 200 + b"}", "more than 128 levels"),
        (b'{"name": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"name": "a\\u0000b", "permissions": ["IDENTITY"]}', "NUL"),
        (b"", "empty"),
    ],
)
async def test_malformed_bodies_are_400(
    autoplat_client: httpx.AsyncClient, content: bytes, reason: str
) -> None:
    response = await autoplat_client.post(
        KEYS, content=content, headers={"content-type": "application/json"}
    )
    error = _error(response, 400)
    assert error["code"] == "bad_request"
    assert reason in error["message"]
    assert _fields(error) == ["body"]


async def test_a_non_json_content_type_is_415(autoplat_client: httpx.AsyncClient) -> None:
    response = await autoplat_client.post(KEYS, data={"name": "k"})
    error = _error(response, 415)
    assert error["code"] == "unsupported_media_type"
    assert _fields(error) == ["content-type"]


async def test_wrong_types_and_unknown_fields_name_the_field(
    autoplat_client: httpx.AsyncClient,
) -> None:
    response = await autoplat_client.post(KEYS, json={"name": 5, "permissions": "IDENTITY"})
    error = _error(response, 422)
    assert error["code"] == "validation_error"
    assert {"body.name", "body.permissions"} <= set(_fields(error))

    response = await autoplat_client.post(TIMEZONE, json={"timezone": "UTC", "tz": "x"})
    assert _fields(_error(response, 422)) == ["body.tz"]

    response = await autoplat_client.post(TIMEZONE, json=["UTC"])
    assert _fields(_error(response, 422)) == ["body"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("page=abc", "query.page"), ("page=0", "query.page"), ("page_size=100000", "query.page_size")],
)
async def test_bad_pagination_is_422_naming_the_parameter(
    autoplat_client: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await autoplat_client.get(f"{KEYS}?{query}")
    assert _fields(_error(response, 422)) == [field]


async def test_nul_characters_in_path_or_query_are_400(autoplat_client: httpx.AsyncClient) -> None:
    for url in (f"{KEYS}/a%00b", f"{KEYS}?page=1%00"):
        error = _error(await autoplat_client.get(url), 400)
        assert "NUL" in error["message"]


async def test_unknown_routes_and_methods_use_the_envelope(
    autoplat_client: httpx.AsyncClient,
) -> None:
    assert _error(await autoplat_client.get("/api/nothing-here"), 404)["code"] == "not_found"
    response = await autoplat_client.patch(KEYS)
    assert _error(response, 405)["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


async def test_missing_or_bad_credentials_are_401(autoplat_platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=autoplat_platform.url) as anonymous:
        response = await anonymous.get(KEYS)
        assert _error(response, 401)["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
        for header in ("Basic abc", "Bearer", "Bearer not.a.jwt"):
            response = await anonymous.get(KEYS, headers={"Authorization": header})
            assert _error(response, 401)["code"] == "not_authenticated"


async def test_oversized_bodies_are_413(autoplat_database_url: str, tmp_path: Any) -> None:
    settings = make_settings(autoplat_database_url, tmp_path, max_body_bytes=2048)
    async with running_platform(settings) as (_, client):
        big = {"name": "k" * 4000, "permissions": ["IDENTITY"]}
        error = _error(await client.post(KEYS, json=big), 413)
        assert error["code"] == "payload_too_large"

        async def chunks() -> Any:
            for _ in range(8):
                yield b" " * 1024

        # No Content-Length: the limit is enforced while the body streams in.
        response = await client.post(
            KEYS, content=chunks(), headers={"content-type": "application/json"}
        )
        assert _error(response, 413)["code"] == "payload_too_large"
        assert (await client.get(KEYS)).status_code == 200


async def test_every_response_carries_a_request_id(autoplat_client: httpx.AsyncClient) -> None:
    response = await autoplat_client.get(KEYS, headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    response = await autoplat_client.get(KEYS, headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(response.headers["x-request-id"]) == 32
    response = await autoplat_client.get("/api/nothing-here")
    assert response.headers["x-request-id"]


async def test_large_responses_are_gzipped(autoplat_client: httpx.AsyncClient) -> None:
    for index in range(12):
        await autoplat_client.post(KEYS, json={"name": f"key {index}", "permissions": ["IDENTITY"]})
    response = await autoplat_client.get(KEYS, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == "gzip"
    assert len(response.json()["items"]) == 12
