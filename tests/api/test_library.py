"""The library lists a user's agents; archiving one deactivates it (its schedules go)."""

from __future__ import annotations

from typing import Any

import httpx

from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for


def _agent(name: str) -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": name, "description": "d", "nodes": nodes, "links": links}}


async def test_archiving_deactivates_an_agent(autoplat_client: httpx.AsyncClient) -> None:
    graph = (await autoplat_client.post("/api/graphs", json=_agent("kept"))).json()
    schedule = await autoplat_client.post(
        f"/api/graphs/{graph['id']}/schedules",
        json={"name": "nightly", "cron": "0 3 * * *", "inputs": {"x": 1}},
    )
    assert schedule.status_code == 200, schedule.text

    library = (await autoplat_client.get("/api/library/agents")).json()
    assert [a["graph_id"] for a in library["items"]] == [graph["id"]]
    entry = library["items"][0]
    assert entry["name"] == "kept" and entry["is_archived"] is False

    url = f"/api/library/agents/{entry['id']}"
    archived = await autoplat_client.patch(url, json={"is_archived": True})
    assert archived.status_code == 200, archived.text
    assert archived.json()["is_archived"] is True
    schedules = (await autoplat_client.get(f"/api/graphs/{graph['id']}/schedules")).json()
    assert schedules["items"] == []
    assert (await autoplat_client.get("/api/library/agents")).json()["items"] == []
    every = await autoplat_client.get("/api/library/agents", params={"include_archived": "true"})
    assert [a["id"] for a in every.json()["items"]] == [entry["id"]]

    restored = await autoplat_client.patch(url, json={"is_archived": False})
    assert restored.json()["is_archived"] is False
    assert (await autoplat_client.get(url)).json()["id"] == entry["id"]


async def test_bad_updates_and_foreign_entries(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.post("/api/graphs", json=_agent("mine"))
    entry = (await autoplat_client.get("/api/library/agents")).json()["items"][0]
    url = f"/api/library/agents/{entry['id']}"
    bad = await autoplat_client.patch(url, json={"is_archived": "maybe", "color": "red"})
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert fields == {"body.is_archived", "body.color"}
    async with client_for(autoplat_platform, "someone-else") as other:
        for response in (
            await other.get(url),
            await other.patch(url, json={"is_archived": True}),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "library_agent_not_found"
        assert (await other.get("/api/library/agents")).json()["items"] == []
    assert (await autoplat_client.get(url)).json()["is_archived"] is False
