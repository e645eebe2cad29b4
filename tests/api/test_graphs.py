"""Graphs over HTTP: create, version, validate, export and delete, each user in their own space."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for

CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"


def calculator_graph(b: float = 34, name: str = "Adder") -> dict[str, Any]:
    """Input → Calculator(a + b) → Output, as an AutoGPT create-graph body."""
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "calc", "block_id": CALCULATOR, "input_default": {"b": b, "operation": "Add"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "sum"}},
    ]
    links = [
        {"source_id": "in", "sink_id": "calc", "source_name": "result", "sink_name": "a"},
        {"source_id": "calc", "sink_id": "out", "source_name": "result", "sink_name": "value"},
    ]
    graph = {"name": name, "description": "adds", "nodes": nodes, "links": links}
    return {"graph": graph, "source": "builder"}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/graphs", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_create_assigns_fresh_ids_and_remaps_links(
    autoplat_client: httpx.AsyncClient,
) -> None:
    graph = await create(autoplat_client, calculator_graph())
    assert graph["version"] == 1 and graph["is_active"] and graph["user_id"] == "user-a"
    ids = {node["id"] for node in graph["nodes"]}
    assert not ids & {"in", "calc", "out"} and len(ids) == 3
    for link in graph["links"]:
        assert link["source_id"] in ids and link["sink_id"] in ids
    assert list(graph["input_schema"]["properties"]) == ["x"]
    assert list(graph["output_schema"]["properties"]) == ["sum"]
    fetched = await autoplat_client.get(f"/api/graphs/{graph['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["nodes"] == graph["nodes"]


async def test_bare_graph_body_is_accepted(autoplat_client: httpx.AsyncClient) -> None:
    graph = await create(autoplat_client, calculator_graph()["graph"])
    assert graph["name"] == "Adder"


async def test_update_makes_a_new_active_version(autoplat_client: httpx.AsyncClient) -> None:
    first = await create(autoplat_client, calculator_graph(b=1))
    graph_id = first["id"]
    response = await autoplat_client.put(f"/api/graphs/{graph_id}", json=calculator_graph(b=2))
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["id"] == graph_id and second["version"] == 2 and second["is_active"]

    active = (await autoplat_client.get(f"/api/graphs/{graph_id}")).json()
    assert active["version"] == 2
    old = (await autoplat_client.get(f"/api/graphs/{graph_id}?version=1")).json()
    assert old["version"] == 1 and not old["is_active"]
    v1 = (await autoplat_client.get(f"/api/graphs/{graph_id}/versions/1")).json()
    assert v1["nodes"] == old["nodes"]

    versions = (await autoplat_client.get(f"/api/graphs/{graph_id}/versions")).json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert versions["pagination"]["total_items"] == 2
    paged = await autoplat_client.get(f"/api/graphs/{graph_id}/versions?page=2&page_size=1")
    assert [v["version"] for v in paged.json()["items"]] == [1]

    response = await autoplat_client.put(
        f"/api/graphs/{graph_id}/versions/active", json={"active_graph_version": 1}
    )
    assert response.status_code == 200, response.text
    assert (await autoplat_client.get(f"/api/graphs/{graph_id}")).json()["version"] == 1
    listed = (await autoplat_client.get("/api/graphs")).json()
    assert [(g["id"], g["version"]) for g in listed["items"]] == [(graph_id, 1)]
    assert "nodes" not in listed["items"][0]


async def test_list_is_paginated(autoplat_client: httpx.AsyncClient) -> None:
    for i in range(3):
        await create(autoplat_client, calculator_graph(name=f"g{i}"))
    page = (await autoplat_client.get("/api/graphs?page=1&page_size=2")).json()
    assert len(page["items"]) == 2
    assert page["pagination"] == {
        "total_items": 3,
        "total_pages": 2,
        "current_page": 1,
        "page_size": 2,
    }
    bad = await autoplat_client.get("/api/graphs?page_size=0")
    assert bad.status_code == 422


async def test_delete_removes_every_version(autoplat_client: httpx.AsyncClient) -> None:
    graph = await create(autoplat_client, calculator_graph())
    await autoplat_client.put(f"/api/graphs/{graph['id']}", json=calculator_graph())
    response = await autoplat_client.delete(f"/api/graphs/{graph['id']}")
    assert response.status_code == 200 and response.json() == {"version_counts": 2}
    missing = await autoplat_client.get(f"/api/graphs/{graph['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "graph_not_found"
    again = await autoplat_client.delete(f"/api/graphs/{graph['id']}")
    assert again.status_code == 404


async def test_users_see_only_their_own_graphs(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    graph = await create(autoplat_client, calculator_graph())
    graph_id = graph["id"]
    async with client_for(autoplat_platform, "user-b") as other:
        assert (await other.get("/api/graphs")).json()["items"] == []
        calls = [
            other.get(f"/api/graphs/{graph_id}"),
            other.get(f"/api/graphs/{graph_id}?for_export=true"),
            other.get(f"/api/graphs/{graph_id}/versions"),
            other.get(f"/api/graphs/{graph_id}/versions/1"),
            other.put(f"/api/graphs/{graph_id}", json=calculator_graph()),
            other.put(f"/api/graphs/{graph_id}/versions/active", json={"active_graph_version": 1}),
            other.delete(f"/api/graphs/{graph_id}"),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "graph_not_found"
    assert (await autoplat_client.get(f"/api/graphs/{graph_id}")).status_code == 200


async def test_unknown_versions_are_404(autoplat_client: httpx.AsyncClient) -> None:
    graph = await create(autoplat_client, calculator_graph())
    for path in (
        f"/api/graphs/{graph['id']}/versions/7",
        f"/api/graphs/{graph['id']}?version=7",
        "/api/graphs/no-such-graph/versions",
    ):
        response = await autoplat_client.get(path)
        assert response.status_code == 404, path
    huge = 2**40
    for path in (f"/api/graphs/{graph['id']}/versions/{huge}", f"/api/graphs/x?version={huge}"):
        response = await autoplat_client.get(path)
        assert response.status_code in (404, 422), path
    response = await autoplat_client.put(
        f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": 7}
    )
    assert response.status_code == 404
    response = await autoplat_client.put(
        f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": "x"}
    )
    assert response.status_code == 422


async def test_export_round_trips_without_secrets(autoplat_client: httpx.AsyncClient) -> None:
    body = calculator_graph()
    body["graph"]["nodes"][0]["input_default"].update(
        {"api_key": "sk-live-123", "credentials": {"id": "c"}}
    )
    graph = await create(autoplat_client, body)
    response = await autoplat_client.get(f"/api/graphs/{graph['id']}?for_export=true")
    assert response.status_code == 200
    exported = response.json()
    assert exported["user_id"] == "" and exported["sub_graphs"] == []
    assert "sk-live-123" not in response.text and "user-a" not in response.text
    assert {"input_links", "output_links"} <= set(exported["nodes"][0])
    again = await create(autoplat_client, {"graph": exported, "source": "upload"})
    assert again["id"] != graph["id"]
    assert _shape(again) == _shape(graph)
    by_version = await autoplat_client.get(f"/api/graphs/{graph['id']}/versions/1?for_export=true")
    assert by_version.json()["nodes"] == exported["nodes"]


def _shape(graph: dict[str, Any]) -> tuple[Any, ...]:
    """What must survive a round trip: blocks, inputs and wiring, ids aside."""
    index = {n["id"]: i for i, n in enumerate(graph["nodes"])}
    nodes = [(n["block_id"], _without_secrets(n["input_default"])) for n in graph["nodes"]]
    links = sorted(
        (index[lk["source_id"]], lk["source_name"], index[lk["sink_id"]], lk["sink_name"])
        for lk in graph["links"]
    )
    return graph["name"], nodes, links, graph["input_schema"], graph["output_schema"]


def _without_secrets(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in {"api_key", "credentials"}}


async def test_invalid_graphs_get_per_node_errors(autoplat_client: httpx.AsyncClient) -> None:
    body = calculator_graph()
    body["graph"]["links"].append(
        {"source_id": "calc", "sink_id": "out", "source_name": "nope", "sink_name": "value"}
    )
    body["graph"]["links"].append(
        {"source_id": "ghost", "sink_id": "out", "source_name": "result", "sink_name": "value"}
    )
    response = await autoplat_client.post("/api/graphs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    pins = {(d["node_id"], d["pin"]) for d in error["details"]}
    assert ("calc", "nope") in pins and ("ghost", "result") in pins

    missing_name = calculator_graph()
    del missing_name["graph"]["nodes"][2]["input_default"]["name"]
    response = await autoplat_client.post("/api/graphs", json=missing_name)
    assert response.status_code == 422
    assert {"node_id": "out", "pin": "name"}.items() <= response.json()["error"]["details"][
        0
    ].items()


async def test_bad_json_shapes_are_422_not_500(autoplat_client: httpx.AsyncClient) -> None:
    cases: list[Any] = [
        [],
        {"graph": {"name": "x"}},
        {"graph": {"name": "x", "nodes": "no"}},
        {"graph": {"name": "", "nodes": []}},
        {"graph": {"name": "x", "nodes": [{"id": 1}]}},
        {"graph": {"name": "x", "nodes": [], "links": [{"source_id": "a"}]}},
        {"graph": {"name": "x", "nodes": [], "version": "two"}},
        {"graph": {"name": "x", "nodes": [], "forked_from_version": 2**40}},
        {"graph": {"name": "x", "nodes": [], "forked_from_id": "f" * 37}},
        {"graph": {"name": "x", "nodes": [], "recommended_schedule_cron": "* " * 101}},
    ]
    for case in cases:
        response = await autoplat_client.post("/api/graphs", json=case)
        assert response.status_code == 422, (case, response.text)
        assert response.json()["error"]["details"], case
    response = await autoplat_client.post(
        "/api/graphs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_unknown_blocks_are_named_with_their_nodes(
    autoplat_client: httpx.AsyncClient,
) -> None:
    body = calculator_graph()
    body["graph"]["nodes"].append({"id": "x1", "block_id": "00000000-dead-beef-0000-000000000000"})
    body["graph"]["nodes"].append({"id": "x2", "block_id": "00000000-dead-beef-0000-000000000001"})
    response = await autoplat_client.post("/api/graphs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "missing_blocks"
    assert {(d["node_id"], d["block_id"]) for d in error["details"]} == {
        ("x1", "00000000-dead-beef-0000-000000000000"),
        ("x2", "00000000-dead-beef-0000-000000000001"),
    }


async def test_sub_graph_references_must_be_yours(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    child = await create(autoplat_client, calculator_graph(name="child"))
    too_far = _parent_of({**child, "version": 2**40})
    response = await autoplat_client.post("/api/graphs", json=too_far)
    assert response.status_code == 422
    parent = _parent_of(child)
    made = await create(autoplat_client, parent)
    executor = next(n for n in made["nodes"] if n["block_id"] == catalog.AGENT_EXECUTOR)
    assert executor["input_default"]["graph_id"] == child["id"]
    exported = (await autoplat_client.get(f"/api/graphs/{made['id']}?for_export=true")).json()
    assert [g["name"] for g in exported["sub_graphs"]] == ["child"]
    async with client_for(autoplat_platform, "user-b") as other:
        response = await other.post("/api/graphs", json=parent)
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["node_id"] == "agent"
        # With the sub-graph embedded, the other user gets their own copy of it.
        imported = await create(other, {"graph": exported})
        node = next(n for n in imported["nodes"] if n["block_id"] == catalog.AGENT_EXECUTOR)
        assert node["input_default"]["graph_id"] != child["id"]
        assert node["input_default"]["user_id"] == "user-b"
        listed = (await other.get("/api/graphs")).json()
        assert sorted(g["name"] for g in listed["items"]) == ["child", "parent"]


def _parent_of(child: dict[str, Any]) -> dict[str, Any]:
    """A graph whose one sub-agent node runs ``child``."""
    agent = {
        "id": "agent",
        "block_id": catalog.AGENT_EXECUTOR,
        "input_default": {
            "graph_id": child["id"],
            "graph_version": child["version"],
            "input_schema": copy.deepcopy(child["input_schema"]),
            "output_schema": copy.deepcopy(child["output_schema"]),
            "inputs": {"x": 1},
        },
    }
    out = {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "r"}}
    link = {"source_id": "agent", "sink_id": "out", "source_name": "sum", "sink_name": "value"}
    return {"graph": {"name": "parent", "nodes": [agent, out], "links": [link]}}


async def test_write_routes_need_authentication(autoplat_platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=autoplat_platform.url) as anonymous:
        response = await anonymous.post("/api/graphs", json=calculator_graph())
        assert response.status_code == 401
        assert (await anonymous.get("/api/graphs")).status_code == 401


async def test_api_key_permissions_are_enforced(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    minted = await autoplat_client.post(
        "/api/api-keys", json={"name": "reader", "permissions": ["READ_GRAPH", "READ_BLOCK"]}
    )
    assert minted.status_code in (200, 201), minted.text
    key = minted.json()["plain_text_key"]
    graph = await create(autoplat_client, calculator_graph())
    async with httpx.AsyncClient(
        base_url=autoplat_platform.url, headers={"X-API-Key": key}
    ) as reader:
        assert (await reader.get(f"/api/graphs/{graph['id']}")).status_code == 200
        assert (await reader.get("/api/blocks")).status_code == 200
        denied = [
            await reader.post("/api/graphs", json=calculator_graph()),
            await reader.put(f"/api/graphs/{graph['id']}", json=calculator_graph()),
            await reader.delete(f"/api/graphs/{graph['id']}"),
            await reader.post(f"/api/blocks/{CALCULATOR}/execute", json={}),
        ]
        assert [r.status_code for r in denied] == [403] * 4


async def test_incompatible_link_types_are_422(autoplat_client: httpx.AsyncClient) -> None:
    body = calculator_graph()
    body["graph"]["nodes"].append(
        {"id": "dict", "block_id": "b924ddf4-de4f-4b56-9a85-358930dcbc91", "input_default": {}}
    )
    body["graph"]["links"].append(
        {
            "source_id": "dict",
            "sink_id": "calc",
            "source_name": "dictionary",
            "sink_name": "operation",
        }
    )
    response = await autoplat_client.post("/api/graphs", json=body)
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert (detail["node_id"], detail["pin"]) == ("calc", "operation")
