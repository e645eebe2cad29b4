"""Schedules keep their own credentials, over HTTP against a local OpenAI stand-in (both
databases).

A schedule's ``credentials`` are checked when it is made (another user's key, or a key of a
provider the node does not take, is a 422 naming the node and field), shown back as
references only, and used by every fire: the stand-in sees that key. With a preset, the
schedule's own credentials win field by field over the preset's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.db.rows import RunRow
from autoplat.platform import Platform
from autoplat.testing import client_for, make_settings, running_platform
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node
from tests.support.servers import FakeLlm, serve

AI_TEXT = "1f292d4a-41a4-4977-9684-7c8d560b9f91"  # AITextGeneratorBlock

Served = tuple[Platform, httpx.AsyncClient, FakeLlm]


@pytest.fixture
async def served(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        settings = make_settings(
            autoplat_database_url,
            tmp_path,
            credits_enabled=False,
            llm_provider_urls={"openai": f"{url}/v1"},
        )
        async with running_platform(settings) as (platform, client):
            assert (await client.post("/api/auth/user")).status_code == 200
            yield platform, client, fake


async def _writer_graph(client: httpx.AsyncClient) -> tuple[dict[str, Any], str, str]:
    """An agent asking an OpenAI model; returns it, its LLM node's id and credentials key."""
    topic, answer = input_node("topic"), output_node("answer")
    writer = node(AI_TEXT, model="gpt-4o-mini", retry=1)
    g = tk.graph(
        [topic, writer, answer],
        [link(topic, "result", writer, "prompt"), link(writer, "response", answer, "value")],
        name="scheduled writer",
    )
    made = await client.post("/api/graphs", json={"graph": g.model_dump(mode="json")})
    assert made.status_code == 200, made.text
    graph: dict[str, Any] = made.json()
    [key] = graph["credentials_input_schema"]["properties"]
    [writer_id] = [n["id"] for n in graph["nodes"] if n["block_id"] == AI_TEXT]
    return graph, writer_id, key


async def _key(client: httpx.AsyncClient, provider: str, title: str, secret: str) -> dict[str, Any]:
    body = {"type": "api_key", "title": title, "api_key": secret}
    made = await client.post(f"/api/integrations/{provider}/credentials", json=body)
    assert made.status_code == 201, made.text
    return {"id": made.json()["id"], "provider": provider, "type": "api_key", "title": title}


async def _schedule(
    client: httpx.AsyncClient, graph: dict[str, Any], **body: Any
) -> httpx.Response:
    payload = {"name": "every second", "cron": "* * * * * *", "inputs": {"topic": "Hi"}, **body}
    return await client.post(f"/api/graphs/{graph['id']}/schedules", json=payload)


async def _first_fired_run(platform: Platform, client: httpx.AsyncClient, sid: str) -> RunRow:
    for _ in range(300):
        fires = (await client.get(f"/api/schedules/{sid}/fires")).json()["items"]
        for fire in fires:
            if fire["status"] == "FIRED":
                run = await platform.db.executions.get_run(fire["graph_exec_id"])
                if run is not None and run.status in ("COMPLETED", "FAILED"):
                    await client.post(f"/api/schedules/{sid}/pause")
                    return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"schedule {sid} never fired a finished run")


async def test_a_schedule_fires_runs_with_its_own_credential_and_shows_only_its_reference(
    served: Served,
) -> None:
    platform, client, fake = served
    graph, _, key = await _writer_graph(client)
    await _key(client, "openai", "Work", "sk-sched-work-secret")
    home = await _key(client, "openai", "Home", "sk-sched-home-secret")

    # A secret sent along with the reference is not kept: only id, provider, type, title.
    made = await _schedule(client, graph, credentials={key: {**home, "api_key": "sk-smuggled"}})
    assert made.status_code == 200, made.text
    schedule = made.json()
    assert schedule["credentials"] == {key: home} and schedule["preset_id"] is None
    shown = await client.get(f"/api/schedules/{schedule['id']}")
    listed = await client.get("/api/schedules")
    assert shown.json()["credentials"] == {key: home}
    for text in (made.text, shown.text, listed.text):
        assert "sk-sched" not in text and "sk-smuggled" not in text

    run = await _first_fired_run(platform, client, schedule["id"])
    assert run.status == "COMPLETED", run.error
    assert run.credentials_inputs == {key: home}
    assert fake.requests
    assert {r["_authorization"] for r in fake.requests} == {"Bearer sk-sched-home-secret"}
    assert "sk-" not in json.dumps(run.outputs) + json.dumps(run.inputs)


async def test_a_schedules_own_credential_wins_over_its_presets(served: Served) -> None:
    platform, client, fake = served
    graph, _, key = await _writer_graph(client)
    work = await _key(client, "openai", "Work", "sk-preset-work")
    home = await _key(client, "openai", "Home", "sk-own-home")
    preset = await client.post(
        "/api/library/presets",
        json={
            "graph_id": graph["id"],
            "graph_version": graph["version"],
            "name": "work defaults",
            "inputs": {"topic": "from the preset"},
            "credentials": {key: work},
        },
    )
    assert preset.status_code == 200, preset.text

    made = await _schedule(client, graph, preset_id=preset.json()["id"], credentials={key: home})
    assert made.status_code == 200, made.text
    run = await _first_fired_run(platform, client, made.json()["id"])
    assert run.status == "COMPLETED", run.error
    assert run.credentials_inputs == {key: home}
    assert {r["_authorization"] for r in fake.requests} == {"Bearer sk-own-home"}

    # Without credentials of its own, the preset's are the fire's.
    seen = len(fake.requests)
    plain = await _schedule(client, graph, preset_id=preset.json()["id"])
    assert plain.status_code == 200, plain.text
    assert plain.json()["credentials"] == {}
    run = await _first_fired_run(platform, client, plain.json()["id"])
    assert run.status == "COMPLETED", run.error
    assert run.credentials_inputs == {key: work}
    assert {r["_authorization"] for r in fake.requests[seen:]} == {"Bearer sk-preset-work"}


async def test_a_schedule_with_another_users_or_a_wrong_providers_credential_is_refused(
    served: Served,
) -> None:
    platform, client, fake = served
    graph, writer_id, key = await _writer_graph(client)
    async with client_for(platform, "sched-other-user") as other:
        assert (await other.post("/api/auth/user")).status_code == 200
        theirs = await _key(other, "openai", "Theirs", "sk-of-the-other-user")
    anthropic = await _key(client, "anthropic", "Claude", "sk-ant-mine")

    for reference, reason in [(theirs, "not found"), (anthropic, "do not fit")]:
        refused = await _schedule(client, graph, credentials={key: reference})
        assert refused.status_code == 422, refused.text
        details = refused.json()["error"]["details"]
        assert [(d["node_id"], d["pin"]) for d in details] == [(writer_id, "credentials")]
        assert reason in details[0]["message"]
        assert "sk-of-the-other-user" not in refused.text and "sk-ant" not in refused.text

    assert (await client.get("/api/schedules")).json()["items"] == []
    assert fake.requests == []
