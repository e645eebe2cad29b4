"""SendWebRequestBlock against a real HTTP server on 127.0.0.1, through OutboundHttp."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.web_request import SendWebRequestBlock
from autoplat.blocks.outbound import OutboundHttp, Resolver, is_forbidden_ip, system_resolver
from autoplat.blocks.settings import BlockSettings
from autoplat.errors import BlockRunError, TransientBlockError
from tests.support.network import LocalNetwork
from tests.support.servers import serve

# Public address literals: they pass the address guard without DNS. Tests that use them open
# their connections through LocalNetwork, so no packet ever leaves this machine.
PUBLIC_IP = "93.184.216.34"
OTHER_PUBLIC_IP = "93.184.216.35"


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "content_type": request.headers.get("content-type", ""),
            "body": body.decode("utf-8", errors="replace"),
            "auth": request.headers.get("authorization", ""),
        }
    )


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=302)


async def see_other(request: Request) -> Response:
    return RedirectResponse("/echo", status_code=303)


def make_app() -> Starlette:
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
    return Starlette(
        routes=[
            Route("/json", lambda r: JSONResponse({"ok": True})),
            Route("/echo", echo, methods=methods),
            Route("/missing", lambda r: JSONResponse({"detail": "nope"}, status_code=404)),
            Route("/boom", lambda r: PlainTextResponse("down", status_code=503)),
            Route("/big", lambda r: PlainTextResponse("x" * 5000)),
            Route("/nothing", lambda r: Response(status_code=204, media_type="application/json")),
            Route("/redirect", redirect),
            Route("/see-other", see_other, methods=["POST"]),
            Route("/loop", lambda r: RedirectResponse("/loop", status_code=302)),
        ]
    )


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serve(make_app()) as url:
        yield url


def fixed_resolver(answers: dict[str, list[str]]) -> Resolver:
    """Answers the given names from ``answers``, address literals as themselves."""

    async def resolve(host: str, port: int) -> list[str]:
        return answers.get(host) or await system_resolver(host, port)

    return resolve


async def run_block(
    data: dict[str, Any],
    *,
    allow_private: bool = True,
    max_bytes: int = 10_000_000,
    network: httpcore.AsyncNetworkBackend | None = None,
    resolver: Resolver = system_resolver,
) -> list[tuple[str, Any]]:
    settings = BlockSettings(http_allow_private=allow_private, http_max_response_bytes=max_bytes)
    async with OutboundHttp(settings, network=network, resolver=resolver) as outbound:
        context = BlockContext(settings=settings, http=outbound.client_for("user-1"))
        return [pair async for pair in SendWebRequestBlock().execute(data, context)]


async def test_loopback_refused_without_the_setting(base_url: str) -> None:
    with pytest.raises(BlockRunError, match="not allowed"):
        await run_block({"url": f"{base_url}/json", "method": "GET"}, allow_private=False)
    port = base_url.rsplit(":", 1)[1]
    with pytest.raises(BlockRunError, match="not allowed"):
        await run_block({"url": f"http://localhost:{port}/json"}, allow_private=False)


async def test_loopback_allowed_with_the_setting(base_url: str) -> None:
    outputs = await run_block({"url": f"{base_url}/json", "method": "GET"})
    assert outputs == [("response", {"ok": True})]


async def test_client_and_server_errors_go_to_their_pins(base_url: str) -> None:
    assert await run_block({"url": f"{base_url}/missing", "method": "GET"}) == [
        ("client_error", {"detail": "nope"})
    ]
    assert await run_block({"url": f"{base_url}/boom", "method": "GET"}) == [
        ("server_error", "down")
    ]


async def test_response_size_cap(base_url: str) -> None:
    with pytest.raises(BlockRunError, match="larger than 1000 bytes"):
        await run_block({"url": f"{base_url}/big", "method": "GET"}, max_bytes=1000)
    [(pin, text)] = await run_block({"url": f"{base_url}/big", "method": "GET"}, max_bytes=5000)
    assert pin == "response" and len(text) == 5000


async def test_json_form_and_text_bodies(base_url: str) -> None:
    [(_, sent)] = await run_block({"url": f"{base_url}/echo", "body": {"a": 1}})
    assert sent["method"] == "POST"
    assert sent["content_type"] == "application/json"
    assert sent["body"].replace(" ", "") == '{"a":1}'
    [(_, sent)] = await run_block(
        {"url": f"{base_url}/echo", "method": "PUT", "body": {"a": "x y"}, "json_format": False}
    )
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert sent["body"] == "a=x+y"
    [(_, sent)] = await run_block({"url": f"{base_url}/echo", "body": '{"b": [1]}'})
    assert sent["content_type"] == "application/json"
    [(_, sent)] = await run_block({"url": f"{base_url}/echo", "body": "plain words"})
    assert sent["body"] == "plain words"


async def test_files_are_sent_as_multipart(base_url: str) -> None:
    [(_, sent)] = await run_block(
        {
            "url": f"{base_url}/echo",
            "json_format": False,
            "files_name": "upload",
            "files": ["data:text/plain;base64,aGVsbG8="],
            "body": {"note": "n"},
        }
    )
    assert sent["content_type"].startswith("multipart/form-data")
    assert 'name="upload"' in sent["body"] and "hello" in sent["body"]
    assert 'name="note"' in sent["body"]


async def test_empty_json_answer_is_null_and_head_works(base_url: str) -> None:
    assert await run_block({"url": f"{base_url}/nothing", "method": "GET"}) == [("response", None)]
    # HEAD answers carry the JSON content type but no body: null, like a 204.
    assert await run_block({"url": f"{base_url}/echo", "method": "HEAD"}) == [("response", None)]


async def test_redirects_are_followed_with_method_rules(base_url: str) -> None:
    [(_, sent)] = await run_block({"url": f"{base_url}/see-other", "body": {"a": 1}})
    assert sent["method"] == "GET" and sent["body"] == ""
    with pytest.raises(BlockRunError, match="redirects"):
        await run_block({"url": f"{base_url}/loop", "method": "GET"})


async def test_redirect_to_private_address_is_refused(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    names = fixed_resolver({"inside.example": ["10.0.0.8"], "mixed.example": [PUBLIC_IP, "::1"]})
    targets = (
        f"{base_url}/json",
        "http://10.0.0.7/x",
        "http://169.254.169.254/latest",
        "http://inside.example/x",
        "http://mixed.example/x",
    )
    for target in targets:
        network = LocalNetwork(port)
        with pytest.raises(BlockRunError, match="not allowed"):
            await run_block(
                {"url": f"http://{PUBLIC_IP}/redirect?to={target}", "method": "GET"},
                allow_private=False,
                network=network,
                resolver=names,
            )
        assert network.connected == [PUBLIC_IP]
    network = LocalNetwork(port)
    outputs = await run_block(
        {"url": f"http://{PUBLIC_IP}/redirect?to=http://{OTHER_PUBLIC_IP}/json", "method": "GET"},
        allow_private=False,
        network=network,
    )
    assert outputs == [("response", {"ok": True})]
    assert network.connected == [PUBLIC_IP, OTHER_PUBLIC_IP]


async def test_credentials_are_dropped_on_cross_host_redirect(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    [(_, sent)] = await run_block(
        {
            "url": f"http://{PUBLIC_IP}/redirect?to=http://{OTHER_PUBLIC_IP}/echo",
            "method": "GET",
            "headers": {"Authorization": "Bearer secret"},
        },
        allow_private=False,
        network=LocalNetwork(port),
    )
    assert sent["auth"] == ""


async def test_connection_failure_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientBlockError):
        await run_block({"url": f"http://127.0.0.1:{port}/", "method": "GET"})


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("0.0.0.0", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("::", True),
        ("fe80::1%eth0", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("ff02::1", True),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert is_forbidden_ip(address) is forbidden
