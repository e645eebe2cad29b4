"""Presets through the HTTP API (both databases): CRUD, running with overrides, isolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.config import Settings
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import make_settings
from tests.support.graphs import wait_for_run


@pytest.fixture
def autoplat_settings(autoplat_database_url: str, tmp_path: Path) -> Settings:
    return make_settings(autoplat_database_url, tmp_path, credits_enabled=False)


def _graph() -> dict[str, Any]:
    nodes = [
        {"id": "a", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "a"}},
        {"id": "b", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "b"}},
        {"id": "ya", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "ya"}},
        {"id": "yb", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "yb"}},
    ]
    links = [
        {"source_id": "a", "sink_id": "ya", "source_name": "result", "sink_name": "value"},
        {"source_id": "b", "sink_id": "yb", "source_name": "result", "sink_name": "value"},
    ]
    return {"graph": {"name": "two", "nodes": nodes, "links": links}}


async def test_a_preset_is_made_listed_changed_run_with_overrides_and_deleted(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    client = autoplat_client
    await client.post("/api/auth/user")
    graph = (await client.post("/api/graphs", json=_graph())).json()
    body = {
        "graph_id": graph["id"],
        "graph_version": graph["version"],
        "name": "defaults",
        "inputs": {"a": "from preset", "b": "kept"},
    }
    created = await client.post("/api/library/presets", json=body)
    assert created.status_code == 200, created.text
    preset = created.json()
    assert preset["inputs"] == {"a": "from preset", "b": "kept"} and preset["is_active"]

    listed = (await client.get("/api/library/presets", params={"graph_id": graph["id"]})).json()
    assert [p["id"] for p in listed["items"]] == [preset["id"]]
    assert listed["pagination"]["total_items"] == 1

    patched = await client.patch(
        f"/api/library/presets/{preset['id']}", json={"name": "renamed", "description": "d"}
    )
    assert patched.status_code == 200 and patched.json()["name"] == "renamed"
    assert patched.json()["inputs"] == preset["inputs"]

    ran = await client.post(
        f"/api/library/presets/{preset['id']}/execute", json={"inputs": {"a": "override"}}
    )
    assert ran.status_code == 200, ran.text
    row = await wait_for_run(autoplat_platform.db, ran.json()["id"])
    assert row.status == "COMPLETED"
    assert row.outputs == {"ya": ["override"], "yb": ["kept"]}

    scheduled = await client.post(
        f"/api/library/presets/{preset['id']}/schedules",
        json={"name": "nightly", "cron": "0 3 * * *", "inputs": {"b": "scheduled"}},
    )
    assert scheduled.status_code == 200, scheduled.text
    schedule = scheduled.json()
    assert schedule["graph_id"] == graph["id"] and schedule["graph_version"] == graph["version"]
    # The schedule reads the preset at each fire: it stores only its own overrides.
    assert schedule["preset_id"] == preset["id"] and schedule["inputs"] == {"b": "scheduled"}
    bad_cron = await client.post(
        f"/api/library/presets/{preset['id']}/schedules", json={"name": "n", "cron": "nope"}
    )
    assert bad_cron.status_code == 422

    missing_graph = {**body, "graph_version": 99}
    assert (await client.post("/api/library/presets", json=missing_graph)).status_code == 404
    bad_move = await client.patch(f"/api/library/presets/{preset['id']}", json={"graph_version": 7})
    assert bad_move.status_code == 404
    extra = await client.post("/api/library/presets", json={**body, "bogus": 1})
    assert extra.status_code == 422

    assert (await client.delete(f"/api/library/presets/{preset['id']}")).status_code == 204
    gone = await client.get(f"/api/library/presets/{preset['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "preset_not_found"
