"""Local mode answers only to this machine's names and to same-origin browsers (REST and
``/ws``), and in every mode a request body is JSON only when its content type says so."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.platform import Platform
from autoplat.testing import make_settings

GRAPH = {"name": "g", "nodes": [], "links": []}


@pytest.fixture
async def local(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    """A platform in local mode (no auth configured) that also accepts ``box.lan``."""
    settings = make_settings(
        autoplat_database_url, tmp_path, jwt_secret="", allowed_hosts="box.lan, [fd00::1]"
    )
    async with Platform(settings) as platform:
        yield platform


def client(platform: Platform, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=platform.url, headers=headers)


def port_of(platform: Platform) -> int:
    return int(platform.url.rsplit(":", 1)[1])


async def graph_count(platform: Platform) -> int:
    async with client(platform) as http:
        listed = await http.get("/api/graphs")
    assert listed.status_code == 200, listed.text
    return len(listed.json()["items"])


async def handshake(platform: Platform, **headers: str) -> tuple[int, bytes]:
    """Send a raw WebSocket upgrade for /ws; the HTTP status and the rest of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(platform))
    fields = {
        "Host": f"127.0.0.1:{port_of(platform)}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
        **headers,
    }
    request = "GET /ws HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    writer.write((request + "\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    rest = b""
    if not head.startswith(b"HTTP/1.1 101"):
        rest = await asyncio.wait_for(reader.read(65536), timeout=5)
    writer.close()
    return int(head.split(b" ", 2)[1]), rest


def error_code(response: httpx.Response) -> Any:
    return response.json()["error"]["code"]


async def test_local_mode_refuses_a_foreign_host_name_and_creates_nothing(local: Platform) -> None:
    # The case: DNS rebinding from a browser tab, a POST with no Content-Type.
    async with client(local, host="evil.example") as http:
        response = await http.post("/api/graphs", content=b'{"name": "g"}')
        assert response.status_code == 403
        assert error_code(response) == "forbidden_host"
        assert (await http.post("/api/graphs", json=GRAPH)).status_code == 403
        assert (await http.get("/health")).status_code == 403
    assert await graph_count(local) == 0


async def test_local_mode_accepts_loopback_names_on_any_port_and_the_listed_hosts(
    local: Platform,
) -> None:
    for host in ("localhost", "localhost:1234", "127.0.0.1", "[::1]:8006", "LOCALHOST", "box.lan"):
        async with client(local, host=host) as http:
            response = await http.get("/api/graphs")
        assert response.status_code == 200, (host, response.text)
    async with client(local, host="[fd00::1]:80") as http:
        assert (await http.get("/api/graphs")).status_code == 200
    for host in ("127.0.0.2", "localhost.evil.example", "box.lan.evil.example", "[::2]"):
        async with client(local, host=host) as http:
            assert error_code(await http.get("/api/graphs")) == "forbidden_host", host


async def test_local_mode_refuses_cross_origin_browser_requests(local: Platform) -> None:
    port = port_of(local)
    for origin in ("http://evil.example", f"http://localhost:{port + 1}", "null", "https://x:y"):
        async with client(local, origin=origin) as http:
            response = await http.post("/api/graphs", json=GRAPH)
        assert response.status_code == 403, origin
        assert error_code(response) == "cross_origin_request"
    assert await graph_count(local) == 0
    # The same origin (the /docs page of this server) passes.
    async with client(local, origin=f"http://127.0.0.1:{port}") as http:
        assert (await http.post("/api/graphs", json=GRAPH)).status_code == 200
    async with client(local, host="localhost", origin="http://localhost") as http:
        assert (await http.get("/api/graphs")).status_code == 200
    assert await graph_count(local) == 1


async def test_local_mode_refuses_the_websocket_handshake_of_foreign_hosts_and_origins(
    local: Platform,
) -> None:
    port = port_of(local)
    status, body = await handshake(local, Host="evil.example")
    assert status == 403 and b"forbidden_host" in body
    status, body = await handshake(local, Origin="http://evil.example")
    assert status == 403 and b"cross_origin_request" in body
    status, _ = await handshake(local, Origin=f"http://127.0.0.1:{port}")
    assert status == 101
    status, _ = await handshake(local)  # no Origin: not a browser
    assert status == 101


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_without_a_json_content_type_is_refused_in_local_mode(
    local: Platform, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    async with client(local, **headers) as http:
        response = await http.post("/api/graphs", content=b'{"name": "g"}')
        assert response.status_code == 415
        assert error_code(response) == "unsupported_media_type"
        assert "application/json" in response.json()["error"]["message"]
        response = await http.post(
            "/api/blocks/a1234567-89ab-cdef-0123-456789abcdef/execute", content=b"{}"
        )
        assert response.status_code in (404, 415)
    assert await graph_count(local) == 0


async def test_a_body_without_a_json_content_type_is_refused_with_auth_too(
    autoplat_client: httpx.AsyncClient,
) -> None:
    response = await autoplat_client.post("/api/graphs", content=b'{"name": "g"}')
    assert response.status_code == 415
    store_value = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
    response = await autoplat_client.post(
        f"/api/blocks/{store_value}/execute",
        content=b'{"input": 1}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415
    # JSON media types are accepted, +json ones included.
    response = await autoplat_client.post(
        f"/api/blocks/{store_value}/execute",
        content=b'{"input": 1}',
        headers={"content-type": "application/vnd.autoplat+json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
