"""Schedules that point at a preset, over HTTP (both databases).

Each fire reads the preset as it is then: changing the preset's inputs or credentials
changes the next run, the schedule's own inputs override the preset's, a preset of another
user or graph is refused, and deleting the preset pauses its schedules with its last inputs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.config import Settings
from autoplat.db.rows import RunRow
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for, make_settings

CREDENTIALS = {"id": "cred-1", "provider": "openai", "type": "api_key", "title": "first"}


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


async def _graph_and_preset(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    assert (await client.post("/api/auth/user")).status_code == 200
    graph = (await client.post("/api/graphs", json=_graph())).json()
    body = {
        "graph_id": graph["id"],
        "graph_version": graph["version"],
        "name": "defaults",
        "inputs": {"a": "first", "b": "from preset"},
        "credentials": {"llm_credentials": CREDENTIALS},
    }
    created = await client.post("/api/library/presets", json=body)
    assert created.status_code == 200, created.text
    return graph, created.json()


async def _next_fired_run(
    platform: Platform, client: httpx.AsyncClient, schedule_id: str, after: set[str]
) -> RunRow:
    """The first completed run of a fire not in ``after``."""
    for _ in range(200):
        fires = (await client.get(f"/api/schedules/{schedule_id}/fires")).json()["items"]
        for fire in fires:
            run_id = fire["graph_exec_id"]
            if fire["status"] != "FIRED" or run_id in after:
                continue
            run = await platform.db.executions.get_run(run_id)
            if run is not None and run.status == "COMPLETED":
                return run
        await asyncio.sleep(0.05)
    raise AssertionError("no new completed fire")


async def _fired_ids(client: httpx.AsyncClient, schedule_id: str) -> set[str]:
    fires = (await client.get(f"/api/schedules/{schedule_id}/fires")).json()["items"]
    return {f["graph_exec_id"] for f in fires if f["graph_exec_id"]}


async def test_each_fire_runs_the_presets_inputs_and_credentials_as_they_are_then(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    client = autoplat_client
    graph, preset = await _graph_and_preset(client)
    made = await client.post(
        f"/api/graphs/{graph['id']}/schedules",
        json={
            "name": "every second",
            "cron": "* * * * * *",
            "preset_id": preset["id"],
            "inputs": {"b": "override"},
        },
    )
    assert made.status_code == 200, made.text
    schedule = made.json()
    assert schedule["preset_id"] == preset["id"] and schedule["inputs"] == {"b": "override"}
    assert schedule["graph_version"] == preset["graph_version"]

    first = await _next_fired_run(autoplat_platform, client, schedule["id"], set())
    assert first.outputs == {"ya": ["first"], "yb": ["override"]}
    assert first.credentials_inputs == {"llm_credentials": CREDENTIALS}

    changed_credentials = {**CREDENTIALS, "id": "cred-2", "title": "second"}
    patched = await client.patch(
        f"/api/library/presets/{preset['id']}",
        json={
            "inputs": {"a": "second", "b": "ignored"},
            "credentials": {"llm_credentials": changed_credentials},
        },
    )
    assert patched.status_code == 200, patched.text
    seen = await _fired_ids(client, schedule["id"])
    later = await _next_fired_run(autoplat_platform, client, schedule["id"], seen)
    assert later.outputs == {"ya": ["second"], "yb": ["override"]}
    assert later.credentials_inputs == {"llm_credentials": changed_credentials}
    await client.post(f"/api/schedules/{schedule['id']}/pause")

    # The preset route makes the same kind of schedule (it no longer copies the inputs).
    via_preset = await client.post(
        f"/api/library/presets/{preset['id']}/schedules",
        json={"name": "nightly", "cron": "0 3 * * *", "inputs": {"b": "nightly"}},
    )
    assert via_preset.status_code == 200, via_preset.text
    assert via_preset.json()["preset_id"] == preset["id"]
    assert via_preset.json()["inputs"] == {"b": "nightly"}


async def test_a_preset_of_another_user_or_graph_is_refused(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    graph, preset = await _graph_and_preset(autoplat_client)
    body = {"name": "n", "cron": "0 3 * * *", "preset_id": preset["id"]}
    async with client_for(autoplat_platform, "user-b") as other:
        await other.post("/api/auth/user")
        theirs = (await other.post("/api/graphs", json=_graph())).json()
        stolen = await other.post(f"/api/graphs/{theirs['id']}/schedules", json=body)
        assert stolen.status_code == 404
        assert stolen.json()["error"]["code"] == "preset_not_found"
    second = (await autoplat_client.post("/api/graphs", json=_graph())).json()
    wrong_graph = await autoplat_client.post(f"/api/graphs/{second['id']}/schedules", json=body)
    assert wrong_graph.status_code == 422
    [detail] = wrong_graph.json()["error"]["details"]
    assert detail["field"] == "body.preset_id"
    wrong_version = await autoplat_client.post(
        f"/api/graphs/{graph['id']}/schedules", json={**body, "graph_version": 5}
    )
    assert wrong_version.status_code == 422
    missing = await autoplat_client.post(
        f"/api/graphs/{graph['id']}/schedules", json={**body, "preset_id": "no-such-preset"}
    )
    assert missing.status_code == 404


async def test_deleting_a_preset_pauses_its_schedules_with_its_last_inputs(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    client = autoplat_client
    graph, preset = await _graph_and_preset(client)
    made = await client.post(
        f"/api/graphs/{graph['id']}/schedules",
        json={"name": "n", "cron": "0 3 * * *", "preset_id": preset["id"], "inputs": {"b": "o"}},
    )
    assert made.status_code == 200, made.text
    schedule_id = made.json()["id"]
    assert (await client.delete(f"/api/library/presets/{preset['id']}")).status_code == 204
    paused = (await client.get(f"/api/schedules/{schedule_id}")).json()
    assert paused["status"] == "PAUSED" and "preset was deleted" in paused["paused_reason"]
    assert paused["preset_id"] is None
    assert paused["inputs"] == {"a": "first", "b": "o"}
    resumed = await client.post(f"/api/schedules/{schedule_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "ACTIVE"
