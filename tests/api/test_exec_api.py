"""The executions REST routes and the /ws protocol, over a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from autoplat.graphs.model import Graph
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for, make_token, running_platform
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node

Ctx = tuple[Platform, httpx.AsyncClient]


@pytest.fixture
async def ctx(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Ctx]:
    settings = tk.exec_settings(autoplat_database_url, tmp_path)
    async with running_platform(settings) as pair:
        yield pair


def echo_graph() -> Graph:
    x = input_node("x")
    out = output_node("y")
    return tk.graph([x, out], [link(x, "result", out, "value")], "echo")


def slow_graph() -> Graph:
    return tk.graph([node(tk.COUNTDOWN, seconds=30)], [], "slow")


async def wait_done(client: httpx.AsyncClient, graph_id: str, exec_id: str) -> dict[str, Any]:
    for _ in range(250):
        response = await client.get(f"/api/graphs/{graph_id}/executions/{exec_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"execution {exec_id} did not finish")


async def test_execute_and_read_back(ctx: Ctx) -> None:
    platform, client = ctx
    g = await tk.save_graph(platform.db, TEST_USER_ID, echo_graph())
    response = await client.post(
        f"/api/graphs/{g.id}/execute/{g.version}", json={"inputs": {"x": 3}}
    )
    assert response.status_code == 200, response.text
    exec_id = response.json()["graph_exec_id"]
    assert response.json()["id"] == exec_id
    body = await wait_done(client, g.id, exec_id)
    assert body["status"] == "COMPLETED"
    assert body["outputs"] == {"y": [3]}
    assert body["inputs"] == {"x": 3}
    assert len(body["node_executions"]) == 2
    first = body["node_executions"][0]
    assert first["status"] == "COMPLETED" and first["output_data"] == {"result": [3]}
    assert first["start_time"] and first["end_time"]
    listed = (await client.get("/api/executions")).json()
    assert [e["id"] for e in listed["items"]] == [exec_id]
    assert listed["pagination"]["total_items"] == 1
    per_graph = (await client.get(f"/api/graphs/{g.id}/executions?page_size=5")).json()
    assert [e["id"] for e in per_graph["items"]] == [exec_id]


async def test_invalid_run_is_a_422_with_node_details(ctx: Ctx) -> None:
    platform, client = ctx
    g = await tk.save_graph(platform.db, TEST_USER_ID, echo_graph())
    response = await client.post(f"/api/graphs/{g.id}/execute/{g.version}", json={"inputs": {}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["node_id"] == g.nodes[0].id
    bad = await client.post(f"/api/graphs/{g.id}/execute/{g.version}", json={"input": {}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "body.input"
    bad_version = await client.post(f"/api/graphs/{g.id}/execute/zero", json={})
    assert bad_version.status_code == 422
    empty = await client.post(f"/api/graphs/{g.id}/execute/{g.version}", content=b"")
    assert empty.status_code == 400


async def test_foreign_graphs_and_runs_are_404(ctx: Ctx) -> None:
    platform, client = ctx
    theirs = await tk.save_graph(platform.db, "someone-else", echo_graph())
    response = await client.post(
        f"/api/graphs/{theirs.id}/execute/{theirs.version}", json={"inputs": {"x": 1}}
    )
    assert response.status_code == 404
    assert (await client.post(f"/api/graphs/{theirs.id}/execute/99", json={})).status_code == 404
    async with client_for(platform, "someone-else") as other:
        started = await other.post(
            f"/api/graphs/{theirs.id}/execute/{theirs.version}", json={"inputs": {"x": 1}}
        )
        exec_id = started.json()["id"]
        await wait_done(other, theirs.id, exec_id)
    assert (await client.get(f"/api/graphs/{theirs.id}/executions/{exec_id}")).status_code == 404
    stop = await client.post(f"/api/graphs/{theirs.id}/executions/{exec_id}/stop")
    assert stop.status_code == 404
    assert (await client.delete(f"/api/executions/{exec_id}")).status_code == 404
    assert (await client.get(f"/api/graphs/{theirs.id}/executions")).status_code == 404


async def test_stop_route_and_delete(ctx: Ctx) -> None:
    platform, client = ctx
    g = await tk.save_graph(platform.db, TEST_USER_ID, slow_graph())
    exec_id = (await client.post(f"/api/graphs/{g.id}/execute/{g.version}", json={})).json()["id"]
    for _ in range(100):
        nodes = await platform.db.executions.get_nodes(exec_id)
        if nodes and nodes[0].status == "RUNNING":
            break
        await asyncio.sleep(0.02)
    assert (await client.delete(f"/api/executions/{exec_id}")).status_code == 409
    started = time.perf_counter()
    response = await client.post(f"/api/graphs/{g.id}/executions/{exec_id}/stop")
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 200 and response.json()["status"] == "TERMINATED"
    assert (await client.delete(f"/api/executions/{exec_id}")).status_code == 204
    assert (await client.get(f"/api/graphs/{g.id}/executions/{exec_id}")).status_code == 404


def ws_url(platform: Platform, token: str | None) -> str:
    base = platform.url.replace("http://", "ws://") + "/ws"
    return f"{base}?token={token}" if token else base


async def recv(ws: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return data


async def test_websocket_protocol(ctx: Ctx) -> None:
    platform, client = ctx
    g = await tk.save_graph(platform.db, TEST_USER_ID, echo_graph())
    async with websockets.connect(ws_url(platform, make_token(TEST_USER_ID))) as ws:
        await ws.send(json.dumps({"method": "heartbeat", "data": "ping"}))
        assert await recv(ws) == {"method": "heartbeat", "data": "pong", "success": True}
        await ws.send(
            json.dumps({"method": "subscribe_graph_executions", "data": {"graph_id": g.id}})
        )
        reply = await recv(ws)
        channel = f"{TEST_USER_ID}|graph#{g.id}|executions"
        assert reply == {
            "method": "subscribe_graph_executions",
            "success": True,
            "channel": channel,
        }
        started = await client.post(
            f"/api/graphs/{g.id}/execute/{g.version}", json={"inputs": {"x": 4}}
        )
        exec_id = started.json()["id"]
        seen: list[dict[str, Any]] = []
        while True:
            message = await recv(ws)
            seen.append(message)
            if (
                message["method"] == "graph_execution_event"
                and message["data"]["status"] == "COMPLETED"
            ):
                break
        assert {m["channel"] for m in seen} == {channel}
        assert seen[-1]["data"]["id"] == exec_id and seen[-1]["data"]["outputs"] == {"y": [4]}
        node_events = [m for m in seen if m["method"] == "node_execution_event"]
        assert {m["data"]["status"] for m in node_events} >= {"RUNNING", "COMPLETED"}
        await ws.send(json.dumps({"method": "unsubscribe", "data": {"channel": channel}}))
        assert (await recv(ws))["success"] is True
        await ws.send(json.dumps({"method": "subscribe_graph_execution", "data": {}}))
        assert (await recv(ws))["success"] is False
        await ws.send("not json")
        assert (await recv(ws))["method"] == "error"


async def test_websocket_single_run_subscription(ctx: Ctx) -> None:
    platform, client = ctx
    g = await tk.save_graph(platform.db, TEST_USER_ID, slow_graph())
    exec_id = (await client.post(f"/api/graphs/{g.id}/execute/{g.version}", json={})).json()["id"]
    async with websockets.connect(
        ws_url(platform, None),
        additional_headers={"Authorization": f"Bearer {make_token(TEST_USER_ID)}"},
    ) as ws:
        await ws.send(
            json.dumps({"method": "subscribe_graph_execution", "data": {"graph_exec_id": exec_id}})
        )
        assert (await recv(ws))["channel"] == f"{TEST_USER_ID}|graph_exec#{exec_id}"
        await client.post(f"/api/graphs/{g.id}/executions/{exec_id}/stop")
        while True:
            message = await recv(ws)
            if message["method"] == "graph_execution_event":
                assert message["data"]["id"] == exec_id
                if message["data"]["status"] != "RUNNING":
                    assert message["data"]["status"] == "TERMINATED"
                    break


async def test_websocket_rejects_bad_credentials(ctx: Ctx) -> None:
    platform, _ = ctx
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(ws_url(platform, "not-a-token")) as ws:
            await ws.recv()
