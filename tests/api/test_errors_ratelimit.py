"""Run submissions are rate limited per user (429), as the setting says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autoplat.graphs import catalog
from autoplat.testing import client_for, make_settings, running_platform


def _graph() -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "echo", "nodes": nodes, "links": links}}


async def test_run_submissions_over_the_limit_are_429(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        autoplat_database_url, tmp_path, run_rate_limit=2, credits_enabled=False
    )
    async with running_platform(settings) as (platform, client):
        graph = (await client.post("/api/graphs", json=_graph())).json()
        url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
        for _ in range(2):
            response = await client.post(url, json={"inputs": {"x": 1}})
            assert response.status_code == 200, response.text
        response = await client.post(url, json={"inputs": {"x": 1}})
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "rate_limited" and "2 per minute" in error["message"]
        assert 1 <= int(response.headers["retry-after"]) <= 30

        # Other users have their own budget; the limited user can still read.
        async with client_for(platform, "someone-else") as other:
            mine = (await other.post("/api/graphs", json=_graph())).json()
            started = await other.post(
                f"/api/graphs/{mine['id']}/execute/{mine['version']}", json={"inputs": {"x": 2}}
            )
            assert started.status_code == 200, started.text
        assert (await client.get("/api/executions")).status_code == 200

        spec = (await client.get("/openapi.json")).json()
        execute = spec["paths"]["/api/graphs/{graph_id}/execute/{graph_version}"]["post"]
        assert "429" in execute["responses"]
