"""/ws clients that read slowly: they get a ``lagged`` notice and the current state of the
runs whose events they lost, so they always end with a run's true status."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from autoplat.graphs.model import Graph
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, make_token, running_platform
from tests.support import graphs as tk
from tests.support.graphs import link, node

Ctx = tuple[Platform, httpx.AsyncClient]
#: A client receive buffer this small makes the server's sends block soon after the client
#: stops reading, so the subscription behind them fills up instead of the sockets.
SMALL_RCVBUF = 4096


@pytest.fixture
async def ctx(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Ctx]:
    settings = tk.exec_settings(autoplat_database_url, tmp_path)
    async with running_platform(settings) as pair:
        yield pair


async def slow_socket(platform: Platform) -> socket.socket:
    """A TCP connection to the platform with a tiny receive buffer (set before connecting)."""
    url = urlsplit(platform.url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
    return sock


async def connect_slowly(platform: Platform) -> ClientConnection:
    ws_url = platform.url.replace("http://", "ws://") + f"/ws?token={make_token(TEST_USER_ID)}"
    # max_queue=1: the client library buffers one message, not sixteen, for a slow reader.
    return await websockets.connect(ws_url, sock=await slow_socket(platform), max_queue=1)


async def request(ws: ClientConnection, method: str, **data: str) -> dict[str, Any]:
    """Send a request and return its reply (events that arrive first are skipped)."""
    await ws.send(json.dumps({"method": method, "data": data}))
    while True:
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if reply["method"] in (method, "error"):
            assert reply["success"] is True, reply
            return reply


def delayed_fanout(count: int) -> Graph:
    """A fanout of ``count`` items that starts after a one-second countdown."""
    wait = node(tk.COUNTDOWN, input_message=list(range(count)), seconds=1)
    step = node(tk.STEP_THROUGH)
    store = node(tk.STORE_VALUE)
    links = [link(wait, "output_message", step, "items"), link(step, "item", store, "input")]
    return tk.graph([wait, step, store], links, f"delayed fanout of {count}")


async def read_until_run_ends(
    ws: ClientConnection, platform: Platform, exec_id: str, pause: float
) -> list[dict[str, Any]]:
    """Read one message per ``pause`` seconds until the run has ended in the database, then
    as fast as possible until its terminal ``graph_execution_event`` arrives."""
    seen: list[dict[str, Any]] = []
    ended = asyncio.create_task(tk.wait_for_run(platform.db, exec_id, timeout=120))
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
        seen.append(message)
        if (
            message["method"] == "graph_execution_event"
            and message["data"]["id"] == exec_id
            and message["data"]["status"] in ("COMPLETED", "FAILED", "TERMINATED")
        ):
            ended.cancel()
            return seen
        if not ended.done():
            await asyncio.sleep(pause)


def run_statuses(seen: list[dict[str, Any]], exec_id: str) -> list[str]:
    return [
        m["data"]["status"]
        for m in seen
        if m["method"] == "graph_execution_event" and m["data"]["id"] == exec_id
    ]


async def test_a_slow_client_of_a_10000_item_fanout_sees_it_complete(ctx: Ctx) -> None:
    platform, client = ctx
    g = await tk.save_graph(platform.db, TEST_USER_ID, tk.fanout_graph(10_000))
    async with await connect_slowly(platform) as ws:
        channel = (await request(ws, "subscribe_graph_executions", graph_id=g.id))["channel"]
        response = await client.post(f"/api/graphs/{g.id}/execute/{g.version}", json={})
        exec_id = response.json()["graph_exec_id"]
        seen = await read_until_run_ends(ws, platform, exec_id, pause=0.005)
    lagged = [m for m in seen if m["method"] == "lagged"]
    assert lagged, "the client was expected to fall more than 10,000 events behind"
    assert {m["channel"] for m in lagged} == {channel}
    assert exec_id in lagged[0]["data"]["graph_exec_ids"]
    assert run_statuses(seen, exec_id)[-1] == "COMPLETED"
    row = await platform.db.executions.get_run(exec_id)
    assert row is not None and row.status == "COMPLETED"


async def test_after_a_lag_a_client_gets_the_notice_then_the_current_state(ctx: Ctx) -> None:
    platform, client = ctx
    platform.executions.bus.subscriber_limit = 20  # new subscriptions lag after 20 events
    g = await tk.save_graph(platform.db, TEST_USER_ID, delayed_fanout(500))
    response = await client.post(f"/api/graphs/{g.id}/execute/{g.version}", json={})
    exec_id = response.json()["graph_exec_id"]
    async with await connect_slowly(platform) as ws:
        channel = (await request(ws, "subscribe_graph_execution", graph_exec_id=exec_id))["channel"]
        seen = await read_until_run_ends(ws, platform, exec_id, pause=0.02)
        # The stream goes on normally after a lag.
        assert (await request(ws, "heartbeat"))["data"] == "pong"
    assert {m["channel"] for m in seen} == {channel}
    first_lag = next(i for i, m in enumerate(seen) if m["method"] == "lagged")
    assert seen[first_lag]["data"] == {"graph_exec_ids": [exec_id]}
    state = seen[first_lag + 1]
    assert state["method"] == "graph_execution_event" and state["data"]["id"] == exec_id
    assert run_statuses(seen, exec_id)[-1] == "COMPLETED"
