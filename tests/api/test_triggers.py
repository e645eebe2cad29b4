"""Webhook triggers through the HTTP API (both databases), deliveries sent by the test.

A trigger preset's ingress needs its secret, refuses bodies that are too large or not JSON
objects, hands the payload to GenericWebhookTriggerBlock, and starts one run per delivery id.
"""

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

TRIGGER = "8fa8c167-2002-47ce-aba8-97572fc5d387"


@pytest.fixture
def autoplat_settings(autoplat_database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        autoplat_database_url, tmp_path, credits_enabled=False, webhook_max_payload_bytes=2000
    )


def _graph(with_trigger: bool = True) -> dict[str, Any]:
    source: dict[str, Any] = (
        {"id": "hook", "block_id": TRIGGER, "input_default": {"constants": {"k": "v"}}}
        if with_trigger
        else {"id": "hook", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}}
    )
    nodes = [
        source,
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "got"}},
    ]
    pin = "payload" if with_trigger else "result"
    links = [{"source_id": "hook", "sink_id": "out", "source_name": pin, "sink_name": "value"}]
    return {"graph": {"name": "hooked", "nodes": nodes, "links": links}}


async def test_a_webhook_starts_its_preset_once_per_delivery(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    client = autoplat_client
    await client.post("/api/auth/user")
    graph = (await client.post("/api/graphs", json=_graph())).json()
    setup = await client.post(
        "/api/library/presets/setup-trigger",
        json={"name": "on hook", "graph_id": graph["id"], "graph_version": graph["version"]},
    )
    assert setup.status_code == 200, setup.text
    webhook = setup.json()["webhook"]
    preset = setup.json()["preset"]
    assert preset["webhook_id"] == webhook["id"]
    url = webhook["ingress_url"]
    good = {"X-Webhook-Secret": webhook["secret"]}

    async with httpx.AsyncClient(base_url=autoplat_platform.url) as provider:
        # Without the secret the webhook is indistinguishable from a missing one.
        assert (await provider.post(url, json={"a": 1})).status_code == 404
        wrong = {"X-Webhook-Secret": "not-the-secret"}
        assert (await provider.post(url, json={"a": 1}, headers=wrong)).status_code == 404
        other = url.replace("generic_webhook", "github")
        assert (await provider.post(other, json={"a": 1}, headers=good)).status_code == 404
        big = await provider.post(url, json={"blob": "x" * 3000}, headers=good)
        assert big.status_code == 413, big.text
        listed = await provider.post(url, json=[1, 2], headers=good)
        assert listed.status_code == 422
        broken = await provider.post(url, content=b"{nope", headers=good)
        assert broken.status_code == 422

        first_headers = {**good, "X-Webhook-Delivery": "d-1"}
        first = await provider.post(url, json={"msg": "hi"}, headers=first_headers)
        assert first.status_code == 200, first.text
        assert first.json()["duplicate"] is False
        run_id = first.json()["graph_exec_id"]
        row = await wait_for_run(autoplat_platform.db, run_id)
        assert row.status == "COMPLETED"
        assert row.outputs == {"got": [{"msg": "hi"}]}

        again = await provider.post(url, json={"msg": "hi"}, headers=first_headers)
        assert again.json() == {"graph_exec_id": run_id, "duplicate": True}
        second = await provider.post(
            url, json={"msg": "two"}, headers={**good, "X-GitHub-Delivery": "d-2"}
        )
        assert second.json()["duplicate"] is False
        assert second.json()["graph_exec_id"] != run_id
        await wait_for_run(autoplat_platform.db, second.json()["graph_exec_id"])
        runs = (await client.get(f"/api/graphs/{graph['id']}/executions")).json()
        assert runs["pagination"]["total_items"] == 2

        # Deleting the preset deletes its webhook: deliveries find nothing.
        assert (await client.delete(f"/api/library/presets/{preset['id']}")).status_code == 204
        gone = await provider.post(url, json={"msg": "late"}, headers=good)
        assert gone.status_code == 404


async def test_a_trigger_needs_a_graph_with_a_webhook_trigger_block(
    autoplat_client: httpx.AsyncClient,
) -> None:
    client = autoplat_client
    await client.post("/api/auth/user")
    graph = (await client.post("/api/graphs", json=_graph(with_trigger=False))).json()
    body = {"name": "n", "graph_id": graph["id"], "graph_version": graph["version"]}
    refused = await client.post("/api/library/presets/setup-trigger", json=body)
    assert refused.status_code == 422, refused.text
    missing = await client.post(
        "/api/library/presets/setup-trigger", json={**body, "graph_version": 9}
    )
    assert missing.status_code == 404


async def test_a_trigger_set_up_with_autogpts_trigger_config_keeps_it_as_the_preset_inputs(
    autoplat_client: httpx.AsyncClient,
) -> None:
    client = autoplat_client
    await client.post("/api/auth/user")
    graph = (await client.post("/api/graphs", json=_graph())).json()
    body = {
        "name": "on hook",
        "graph_id": graph["id"],
        "graph_version": graph["version"],
        "trigger_config": {"topic": "builds", "kept": 1},
        "inputs": {"topic": "deploys"},
    }
    setup = await client.post("/api/library/presets/setup-trigger", json=body)
    assert setup.status_code == 200, setup.text
    # AutoGPT's clients send trigger_config; our own name, inputs, wins where both say.
    assert setup.json()["preset"]["inputs"] == {"topic": "deploys", "kept": 1}
