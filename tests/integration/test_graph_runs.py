"""Imported agents run with the expected outputs: the calculator and testing agents from
shared/compat/agents, and an imported graph that runs its embedded sub-graph."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.graphs import catalog
from autoplat.testing import make_settings, running_platform
from tests.support.servers import FakeLlm, serve

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
needs_agents = pytest.mark.skipif(not AGENTS.is_dir(), reason=f"{AGENTS} is absent")
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
TERMINAL = {"COMPLETED", "FAILED", "TERMINATED"}


async def import_graph(client: httpx.AsyncClient, document: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/graphs", json={"graph": document, "source": "upload"})
    assert response.status_code == 200, response.text
    graph: dict[str, Any] = response.json()
    return graph


async def run(
    client: httpx.AsyncClient, graph: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """Start a run of the graph and wait for it to end; the run as the API shows it."""
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    started = await client.post(url, json={"inputs": inputs})
    assert started.status_code == 200, started.text
    run_url = f"/api/graphs/{graph['id']}/executions/{started.json()['id']}"
    async with asyncio.timeout(20):
        while True:
            result: dict[str, Any] = (await client.get(run_url)).json()
            if result["status"] in TERMINAL:
                return result
            await asyncio.sleep(0.05)


@pytest.fixture
async def client(autoplat_database_url: str, tmp_path: Path) -> Any:
    settings = make_settings(autoplat_database_url, tmp_path, credits_enabled=False)
    async with running_platform(settings) as (_, http):
        yield http


@needs_agents
async def test_calculator_agent_adds_34(client: httpx.AsyncClient) -> None:
    graph = await import_graph(client, json.loads((AGENTS / "calculator-agent.json").read_text()))
    result = await run(client, graph, {"Input": 8})
    assert result["status"] == "COMPLETED", result["error"]
    assert result["outputs"] == {"Output": [42]}


@needs_agents
async def test_testing_agent_needs_its_inputs_then_runs(client: httpx.AsyncClient) -> None:
    document = json.loads((AGENTS / "frontend_testing_agent.json").read_text())
    graph = await import_graph(client, document)
    # As exported, its one calculator has no operands: a run is refused per node and pin.
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    refused = await client.post(url, json={"inputs": {}})
    assert refused.status_code == 422
    assert {d["pin"] for d in refused.json()["error"]["details"]} == {"a", "b", "operation"}
    # Filled in (as the builder does) and saved as version 2, it runs.
    export = (await client.get(f"/api/graphs/{graph['id']}?for_export=true")).json()
    export["nodes"][0]["input_default"].update({"a": 6, "b": 7, "operation": "Multiply"})
    updated = await client.put(f"/api/graphs/{graph['id']}", json={"graph": export})
    assert updated.status_code == 200, updated.text
    result = await run(client, updated.json(), {})
    assert result["status"] == "COMPLETED", result["error"]
    assert result["graph_version"] == 2 and result["outputs"] == {}
    [node] = result["node_executions"]
    assert node["output_data"] == {"result": [42]}


@needs_agents
async def test_ai_function_agent_fills_its_prompt(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeLlm(replies=["[1, 2, 3]"])
    document = json.loads((AGENTS / "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json").read_text())
    async with serve(fake.app()) as url:
        settings = make_settings(
            autoplat_database_url, tmp_path, credits_enabled=False, llm_base_url=f"{url}/v1"
        )
        async with running_platform(settings) as (_, http):
            graph = await import_graph(http, document)
            result = await run(http, graph, {"Arguments": "3"})
    assert result["status"] == "COMPLETED", result["error"]
    assert result["outputs"] == {"return": ["[1, 2, 3]"]}
    [request] = fake.requests
    system = " ".join(m["content"] for m in request["messages"] if m["role"] == "system")
    assert "def fake_people(n: int) -> list[dict]:" in system
    assert request["messages"][-1]["content"] == "3"


async def test_imported_sub_graph_runs(client: httpx.AsyncClient) -> None:
    child = {
        "id": "child",
        "version": 7,
        "name": "Double",
        "nodes": [
            {"id": "x", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
            {"id": "m", "block_id": CALCULATOR, "input_default": {"b": 2, "operation": "Multiply"}},
            {"id": "y", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
        ],
        "links": [
            {"source_id": "x", "sink_id": "m", "source_name": "result", "sink_name": "a"},
            {"source_id": "m", "sink_id": "y", "source_name": "result", "sink_name": "value"},
        ],
    }
    schemas = {
        "input_schema": {"type": "object", "properties": {"x": {}}, "required": ["x"]},
        "output_schema": {"type": "object", "properties": {"y": {}}, "required": ["y"]},
    }
    parent = {
        "name": "Parent",
        "nodes": [
            {"id": "n", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "n"}},
            {
                "id": "sub",
                "block_id": catalog.AGENT_EXECUTOR,
                "input_default": {"graph_id": "elsewhere", "graph_version": 7, **schemas},
            },
            {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "doubled"}},
        ],
        "links": [
            {"source_id": "n", "sink_id": "sub", "source_name": "result", "sink_name": "x"},
            {"source_id": "sub", "sink_id": "out", "source_name": "y", "sink_name": "value"},
        ],
        "sub_graphs": [child],
    }
    graph = await import_graph(client, parent)
    result = await run(client, graph, {"n": 21})
    assert result["status"] == "COMPLETED", result["error"]
    assert result["outputs"] == {"doubled": [42]}
