"""Older AutoGPT export shapes over HTTP: legacy templates, ``placeholder_values``, links kept
only on nodes, legacy block ids, and sub-graph references that match by version, not id."""

from __future__ import annotations

from typing import Any

import httpx

from autoplat.graphs import catalog

CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
LEGACY_NOTE = "31d1064e-7446-4693-o7d4-65e5ca9110d1"  # renamed upstream to NOTE


def _adder(graph_id: str, version: int, name: str) -> dict[str, Any]:
    nodes = [
        {"id": f"{name}-in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {
            "id": f"{name}-calc",
            "block_id": CALCULATOR,
            "input_default": {"b": 1, "operation": "Add"},
        },
        {"id": f"{name}-out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [
        {"source_id": f"{name}-in", "sink_id": f"{name}-calc", "source_name": "result",
         "sink_name": "a"},
        {"source_id": f"{name}-calc", "sink_id": f"{name}-out", "source_name": "result",
         "sink_name": "value"},
    ]  # fmt: skip
    return {"id": graph_id, "version": version, "name": name, "description": "",
            "nodes": nodes, "links": links}  # fmt: skip


async def test_legacy_template_with_placeholder_values(
    autoplat_client: httpx.AsyncClient,
) -> None:
    template = {
        "id": "tpl",
        "version": 28,
        "is_active": True,
        "is_template": True,
        "name": "Legacy template",
        "description": "nodes carry only id/block_id/input_default/metadata",
        "nodes": [
            {
                "id": "choice",
                "block_id": catalog.DROPDOWN_INPUT,
                "input_default": {"name": "size", "placeholder_values": ["S", "M", "L"]},
                "metadata": {"position": {"x": 0, "y": 0}},
            },
            {
                "id": "out",
                "block_id": catalog.AGENT_OUTPUT,
                "input_default": {"name": "picked"},
                "metadata": {},
            },
            {
                "id": "note",
                "block_id": LEGACY_NOTE,
                "input_default": {"text": "hi"},
                "metadata": {},
            },
        ],
        "links": [
            {"source_id": "choice", "sink_id": "out", "source_name": "result", "sink_name": "value"}
        ],
    }
    response = await autoplat_client.post("/api/graphs", json=template)
    assert response.status_code == 200, response.text
    graph = response.json()
    assert graph["version"] == 1
    assert graph["input_schema"]["properties"]["size"]["enum"] == ["S", "M", "L"]
    dropdown = next(n for n in graph["nodes"] if n["block_id"] == catalog.DROPDOWN_INPUT)
    assert dropdown["input_default"]["options"] == ["S", "M", "L"]
    assert any(n["block_id"] == catalog.NOTE for n in graph["nodes"])


async def test_links_only_on_nodes_are_used(autoplat_client: httpx.AsyncClient) -> None:
    graph = _adder("g", 3, "adder")
    links = graph.pop("links")
    for i, link in enumerate(links):
        link["id"] = f"link-{i}"  # each link appears on both of its nodes
    for node in graph["nodes"]:
        node["input_links"] = [lk for lk in links if lk["sink_id"] == node["id"]]
        node["output_links"] = [lk for lk in links if lk["source_id"] == node["id"]]
    graph["has_webhook_trigger"] = False
    response = await autoplat_client.post("/api/graphs", json={"graph": graph})
    assert response.status_code == 200, response.text
    assert len(response.json()["links"]) == 2


async def test_sub_graph_reference_matching_by_version(
    autoplat_client: httpx.AsyncClient,
) -> None:
    child = _adder("embedded-child-id", 10, "Adder")
    parent_nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "n"}},
        {
            "id": "run-child",
            "block_id": catalog.AGENT_EXECUTOR,
            "input_default": {
                # As in AutoGPT's seed exports: the id matches no embedded sub-graph.
                "graph_id": "stale-reference-id",
                "graph_version": 10,
                "agent_name": "Adder",
                "user_id": "someone-else",
                "input_schema": {"type": "object", "properties": {"x": {}}, "required": ["x"]},
                "output_schema": {"type": "object", "properties": {"y": {}}, "required": ["y"]},
            },
        },
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "result"}},
    ]
    parent_links = [
        {"source_id": "in", "sink_id": "run-child", "source_name": "result", "sink_name": "x"},
        {"source_id": "run-child", "sink_id": "out", "source_name": "y", "sink_name": "value"},
    ]
    parent = {
        "name": "Parent",
        "description": "",
        "version": 4,
        "nodes": parent_nodes,
        "links": parent_links,
        "sub_graphs": [child],
    }
    response = await autoplat_client.post("/api/graphs", json={"graph": parent})
    assert response.status_code == 200, response.text
    graph = response.json()
    executor = next(n for n in graph["nodes"] if n["block_id"] == catalog.AGENT_EXECUTOR)
    target = executor["input_default"]
    assert target["user_id"] == "user-a" and target["graph_version"] == 1
    stored = await autoplat_client.get(f"/api/graphs/{target['graph_id']}")
    assert stored.status_code == 200 and stored.json()["name"] == "Adder"

    exported = (await autoplat_client.get(f"/api/graphs/{graph['id']}?for_export=true")).json()
    assert [(g["id"], g["name"]) for g in exported["sub_graphs"]] == [(target["graph_id"], "Adder")]
