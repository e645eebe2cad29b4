"""OutboundHttp: a cookieless client per user, connecting only to the address it vetted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpcore
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from autoplat.blocks.outbound import ForbiddenAddress, OutboundHttp
from autoplat.blocks.settings import BlockSettings
from tests.support.network import LocalNetwork
from tests.support.servers import serve

PUBLIC_IP = "93.184.216.34"


class RebindingResolver:
    """A DNS server that answers a public address first and loopback after that."""

    def __init__(self) -> None:
        self.answers = [[PUBLIC_IP], ["127.0.0.1"]]
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return answer


release = asyncio.Event()


async def seen(request: Request) -> JSONResponse:
    # Connection: close makes the next request open (and vet) a new connection.
    return JSONResponse(
        {"host": request.headers.get("host"), "cookie": request.headers.get("cookie")},
        headers={"connection": "close"},
    )


async def set_cookie(request: Request) -> Response:
    response = Response("set")
    response.set_cookie("session", request.query_params.get("v", "a"), path="/")
    return response


async def slow(request: Request) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b"begin "
        await release.wait()
        yield b"end"

    return StreamingResponse(body())


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = Starlette(
        routes=[Route("/seen", seen), Route("/set-cookie", set_cookie), Route("/slow", slow)]
    )
    async with serve(app) as url:
        yield url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_a_rebinding_resolver_never_gets_a_connection_to_its_second_answer(
    base_url: str,
) -> None:
    network = LocalNetwork(port_of(base_url))
    resolver = RebindingResolver()
    async with OutboundHttp(BlockSettings(), resolver=resolver, network=network) as outbound:
        http = outbound.client_for("user-1")
        response = await http.get("http://rebind.example/seen")
        # The name was resolved once, checked, and that very answer was connected to; the
        # Host header keeps the name.
        assert response.json()["host"] == "rebind.example"
        assert resolver.asked == 1
        assert network.connected == [PUBLIC_IP]
        # The next connection resolves again: now the answer is loopback, and it is refused
        # before any connection is opened.
        with pytest.raises(ForbiddenAddress, match="not allowed"):
            await http.get("http://rebind.example/seen")
        assert resolver.asked == 2
        assert network.connected == [PUBLIC_IP]


async def test_private_answers_are_connected_to_only_when_allowed(base_url: str) -> None:
    network = LocalNetwork(port_of(base_url))

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with OutboundHttp(BlockSettings(), resolver=loopback, network=network) as outbound:
        with pytest.raises(ForbiddenAddress):
            await outbound.client_for("u").get("http://inside.example/seen")
    assert network.connected == []
    settings = BlockSettings(http_allow_private=True)
    async with OutboundHttp(settings, resolver=loopback, network=network) as outbound:
        response = await outbound.client_for("u").get("http://inside.example/seen")
    assert response.status_code == 200
    assert network.connected == ["127.0.0.1"]


async def test_the_configured_llm_endpoint_is_reachable_on_a_private_address(
    base_url: str,
) -> None:
    settings = BlockSettings(llm_base_url=f"{base_url}/v1")
    async with OutboundHttp(settings) as outbound:
        http = outbound.client_for("u")
        assert (await http.get(f"{base_url}/seen")).status_code == 200
        # Only that endpoint: another port on the same host is still refused.
        with pytest.raises(ForbiddenAddress):
            await http.get("http://127.0.0.1:9/")


async def test_no_cookie_is_ever_kept_for_the_same_user_or_another(base_url: str) -> None:
    async with OutboundHttp(BlockSettings(http_allow_private=True)) as outbound:
        alice, bob = outbound.client_for("alice"), outbound.client_for("bob")
        assert alice is not bob
        assert outbound.client_for("alice") is alice
        set_answer = await alice.get(f"{base_url}/set-cookie?v=alice-session")
        assert "alice-session" in set_answer.headers["set-cookie"]
        assert len(alice.cookies.jar) == 0
        assert (await bob.get(f"{base_url}/seen")).json()["cookie"] is None
        assert (await alice.get(f"{base_url}/seen")).json()["cookie"] is None


async def test_unix_sockets_are_refused() -> None:
    async with OutboundHttp(BlockSettings(http_allow_private=True)) as outbound:
        with pytest.raises(httpcore.ConnectError):
            await outbound.backend.connect_unix_socket("/var/run/docker.sock")


async def test_at_most_max_users_clients_are_kept_and_evicted_ones_close_when_idle(
    base_url: str,
) -> None:
    release.clear()
    settings = BlockSettings(http_allow_private=True)
    async with OutboundHttp(settings, max_users=2, retire_grace=0.0) as outbound:
        first = outbound.client_for("u1")
        async with first.stream("GET", f"{base_url}/slow") as response:
            chunks = response.aiter_bytes()
            assert await anext(chunks) == b"begin "
            outbound.client_for("u2")
            outbound.client_for("u3")  # u1 is the least recently used: evicted
            assert len(outbound) == 2
            await asyncio.sleep(0.05)
            assert not first.is_closed  # its request is still in flight
            release.set()
            assert [chunk async for chunk in chunks] == [b"end"]
        for _ in range(100):
            if first.is_closed:
                break
            await asyncio.sleep(0.01)
        assert first.is_closed
        # A new client for u1, not the closed one.
        assert outbound.client_for("u1") is not first
    with pytest.raises(RuntimeError):
        outbound.client_for("u1")


async def test_an_evicted_client_asked_for_again_before_it_closes_is_taken_back() -> None:
    async with OutboundHttp(BlockSettings(), max_users=1, retire_grace=60.0) as outbound:
        first = outbound.client_for("u1")
        outbound.client_for("u2")
        assert outbound.client_for("u1") is first
        assert not first.is_closed
    assert first.is_closed


async def test_environment_proxies_are_ignored(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    async with OutboundHttp(BlockSettings(http_allow_private=True)) as outbound:
        response = await outbound.client_for("u").get(f"{base_url}/seen")
    assert isinstance(response, httpx.Response) and response.status_code == 200
