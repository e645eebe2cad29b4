"""/metrics: Prometheus text with request counts and latencies and database-wide gauges."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for


def _value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` of an exposition text, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


def _graph() -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "echo", "nodes": nodes, "links": links}}


async def test_metrics_count_requests_by_route_template(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    for key_id in ("one", "two", "three"):
        assert (await autoplat_client.get(f"/api/api-keys/{key_id}")).status_code == 404
    await autoplat_client.get("/api/api-keys")
    await autoplat_client.get("/api/no-such-route")
    response = await autoplat_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/api/api-keys/{key_id}"
    assert _value(text, "autoplat_http_requests_total", route=route, status="404") == 3
    assert _value(text, "autoplat_http_requests_total", route="/api/api-keys", status="200") == 1
    assert _value(text, "autoplat_http_requests_total", route="unmatched", status="404") == 1
    count = _value(text, "autoplat_http_request_duration_seconds_count", route=route)
    assert count == 3
    assert "/api/api-keys/one" not in text  # ids never become labels


async def test_metrics_report_executions_queue_and_credits(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.post("/api/auth/user")
    async with client_for(autoplat_platform, "admin", role="admin") as admin:
        grant = {"user_id": "user-a", "amount": 500}
        assert (await admin.post("/api/admin/credits/grant", json=grant)).status_code == 200
    graph = (await autoplat_client.post("/api/graphs", json=_graph())).json()
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    run = (await autoplat_client.post(url, json={"inputs": {"x": 1}})).json()
    for _ in range(200):
        state = await autoplat_client.get(f"/api/graphs/{graph['id']}/executions/{run['id']}")
        if state.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            break
        await asyncio.sleep(0.05)
    assert state.json()["status"] == "COMPLETED", state.text

    text = (await autoplat_client.get("/metrics")).text
    assert _value(text, "autoplat_executions", status="COMPLETED") == 1
    assert _value(text, "autoplat_queue_depth") == 0
    node_runs = _value(text, "autoplat_node_runs_total", status="COMPLETED")
    assert node_runs is not None and node_runs >= 2
    assert _value(text, "autoplat_credits_spent_total") is not None
    assert _value(text, "autoplat_users") == 2
    # The execution core's own reports: each block run's duration, each run's queue wait.
    ran = _value(
        text, "autoplat_block_duration_seconds_count", block="AgentInputBlock", status="COMPLETED"
    )
    assert ran == 1
    assert _value(text, "autoplat_queue_wait_seconds_count") == 1


async def test_two_platforms_keep_separate_registries(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    # The registry is the platform's own: a fresh platform starts from zero.
    first = _value(
        (await autoplat_client.get("/metrics")).text,
        "autoplat_http_requests_total",
        route="/metrics",
    )
    assert first is None or first == 0
    assert (
        autoplat_platform.metrics.registry
        is not Platform(autoplat_platform.settings).metrics.registry
    )


async def test_metrics_count_schedule_fires(autoplat_database_url: str, tmp_path: Any) -> None:
    from autoplat.testing import make_settings, running_platform

    settings = make_settings(autoplat_database_url, tmp_path, credits_enabled=False)
    async with running_platform(settings) as (_platform, client):
        graph = (await client.post("/api/graphs", json=_graph())).json()
        created = await client.post(
            f"/api/graphs/{graph['id']}/schedules",
            json={"name": "every second", "cron": "* * * * * *", "inputs": {"x": 1}},
        )
        assert created.status_code == 200, created.text
        fired = None
        for _ in range(100):
            text = (await client.get("/metrics")).text
            fired = _value(text, "autoplat_schedule_fires_total", outcome="fired")
            if fired:
                break
            await asyncio.sleep(0.05)
        assert fired is not None and fired >= 1
        assert _value(text, "autoplat_schedule_fires_total", outcome="missed") == 0
