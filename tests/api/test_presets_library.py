"""Library agents through the HTTP API (both databases): favourites, and an entry that
follows the graph's active version or stays pinned to one."""

from __future__ import annotations

from typing import Any

import httpx

from autoplat.graphs import catalog


def _graph(name: str) -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": name, "nodes": nodes, "links": links}}


async def test_a_library_agent_is_favoured_follows_the_active_version_or_stays_pinned(
    autoplat_client: httpx.AsyncClient,
) -> None:
    client = autoplat_client
    await client.post("/api/auth/user")
    graph = (await client.post("/api/graphs", json=_graph("v1"))).json()
    [entry] = (await client.get("/api/library/agents")).json()["items"]
    assert entry["is_favorite"] is False and entry["use_graph_is_active_version"] is True
    url = f"/api/library/agents/{entry['id']}"

    favoured = (await client.patch(url, json={"is_favorite": True})).json()
    assert favoured["is_favorite"] is True and favoured["is_archived"] is False

    # Following: a new active version moves the entry along.
    v2 = (await client.put(f"/api/graphs/{graph['id']}", json=_graph("v2"))).json()
    assert v2["version"] == 2
    assert (await client.get(url)).json()["graph_version"] == 2

    # Pinned to version 1: later versions leave it there.
    pinned = (await client.patch(url, json={"graph_version": 1})).json()
    assert pinned["graph_version"] == 1 and pinned["use_graph_is_active_version"] is False
    assert pinned["name"] == "v1"
    await client.put(f"/api/graphs/{graph['id']}", json=_graph("v3"))
    await client.put(f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": 3})
    assert (await client.get(url)).json()["graph_version"] == 1

    missing = await client.patch(url, json={"graph_version": 9})
    assert missing.status_code == 404

    # Following again: back to the active version.
    follows = (await client.patch(url, json={"use_graph_is_active_version": True})).json()
    assert follows["graph_version"] == 3 and follows["use_graph_is_active_version"] is True
    assert follows["is_favorite"] is True
