"""Schedules over HTTP: create, list, pause, resume, delete; clear 422s; users kept apart."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import client_for

#: The notification system jobs (autoplat.notifications.jobs).
NOTIFICATION_JOBS = {
    "notification_batches",
    "daily_summary",
    "weekly_summary",
    "monthly_summary",
    "operator_alerts",
}


def echo_graph(required: bool = True) -> dict[str, Any]:
    """Input x -> Output y."""
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "Echo", "nodes": nodes, "links": links}}


async def new_graph(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/graphs", json=echo_graph())
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def schedule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "nightly", "cron": "0 9 * * *", "inputs": {"x": "hi"}}
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, graph_id: str, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/graphs/{graph_id}/schedules", json=schedule_body(**overrides)
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_create_shows_next_run_in_the_schedule_timezone(
    autoplat_client: httpx.AsyncClient,
) -> None:
    graph_id = await new_graph(autoplat_client)
    created = await create(autoplat_client, graph_id, timezone="Europe/Berlin")
    assert created["status"] == "ACTIVE" and created["graph_version"] == 1
    assert created["cron"] == "0 9 * * *" and created["timezone"] == "Europe/Berlin"
    next_run = datetime.fromisoformat(created["next_run_time"])
    offset = next_run.utcoffset()
    assert offset is not None and offset.total_seconds() in (3600.0, 7200.0)
    assert (next_run.hour, next_run.minute) == (9, 0)
    fetched = await autoplat_client.get(f"/api/schedules/{created['id']}")
    assert fetched.status_code == 200 and fetched.json()["inputs"] == {"x": "hi"}


async def test_timezone_defaults_to_the_users(autoplat_client: httpx.AsyncClient) -> None:
    graph_id = await new_graph(autoplat_client)
    assert (await create(autoplat_client, graph_id))["timezone"] == "UTC"  # not-set means UTC
    response = await autoplat_client.post(
        "/api/auth/user/timezone", json={"timezone": "America/New_York"}
    )
    assert response.status_code == 200, response.text
    created = await create(autoplat_client, graph_id)
    assert created["timezone"] == "America/New_York"
    assert datetime.fromisoformat(created["next_run_time"]).hour == 9


async def test_bad_cron_and_timezone_are_422_naming_the_fields(
    autoplat_client: httpx.AsyncClient,
) -> None:
    graph_id = await new_graph(autoplat_client)
    url = f"/api/graphs/{graph_id}/schedules"
    response = await autoplat_client.post(url, json=schedule_body(cron="61 * * * *"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "bad minute" in error["message"]
    assert [d["field"] for d in error["details"]] == ["body.cron"]

    response = await autoplat_client.post(url, json=schedule_body(cron="* * *", timezone="Mars/X"))
    assert response.status_code == 422
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert fields == ["body.cron", "body.timezone"]
    assert "unknown timezone 'Mars/X'" in response.json()["error"]["message"]

    for body in (
        schedule_body(name=""),
        schedule_body(cron=None),
        schedule_body(surprise=1),
        schedule_body(inputs=[1]),
    ):
        response = await autoplat_client.post(url, json=body)
        assert response.status_code == 422, body


async def test_inputs_are_validated_like_a_run(autoplat_client: httpx.AsyncClient) -> None:
    graph_id = await new_graph(autoplat_client)
    response = await autoplat_client.post(
        f"/api/graphs/{graph_id}/schedules", json=schedule_body(inputs={})
    )
    assert response.status_code == 422, response.text
    assert "x" in response.json()["error"]["message"]


async def test_unknown_and_foreign_graphs_are_404(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    response = await autoplat_client.post(
        "/api/graphs/00000000-0000-0000-0000-000000000000/schedules", json=schedule_body()
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "graph_not_found"
    graph_id = await new_graph(autoplat_client)
    async with client_for(autoplat_platform, "user-b") as other:
        response = await other.post(f"/api/graphs/{graph_id}/schedules", json=schedule_body())
        assert response.status_code == 404


async def test_list_pause_resume_delete(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    graph_id = await new_graph(autoplat_client)
    other_graph = await new_graph(autoplat_client)
    first = await create(autoplat_client, graph_id, name="first")
    second = await create(autoplat_client, graph_id, name="second", cron="*/5 * * * * *")
    await create(autoplat_client, other_graph, name="elsewhere")

    listed = (await autoplat_client.get(f"/api/graphs/{graph_id}/schedules")).json()
    assert [s["name"] for s in listed["items"]] == ["second", "first"]
    assert listed["pagination"]["total_items"] == 2
    everything = (await autoplat_client.get("/api/schedules?page_size=2")).json()
    assert everything["pagination"]["total_items"] == 3 and len(everything["items"]) == 2

    paused = await autoplat_client.post(f"/api/schedules/{first['id']}/pause")
    assert paused.status_code == 200
    assert paused.json()["status"] == "PAUSED" and paused.json()["next_run_time"] is None
    assert paused.json()["paused_reason"] == "paused by the user"
    resumed = await autoplat_client.post(f"/api/schedules/{first['id']}/resume")
    assert resumed.json()["status"] == "ACTIVE" and resumed.json()["paused_reason"] is None
    assert resumed.json()["next_run_time"] is not None

    deleted = await autoplat_client.delete(f"/api/schedules/{second['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": second["id"], "deleted": True}
    again = await autoplat_client.delete(f"/api/schedules/{second['id']}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "schedule_not_found"
    assert autoplat_platform.scheduler.scheduled_count == 2


async def test_users_do_not_see_each_others_schedules(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    graph_id = await new_graph(autoplat_client)
    mine = await create(autoplat_client, graph_id)
    async with client_for(autoplat_platform, "user-b") as other:
        assert (await other.get("/api/schedules")).json()["items"] == []
        for method, path in (
            ("GET", f"/api/schedules/{mine['id']}"),
            ("GET", f"/api/schedules/{mine['id']}/fires"),
            ("POST", f"/api/schedules/{mine['id']}/pause"),
            ("POST", f"/api/schedules/{mine['id']}/resume"),
            ("DELETE", f"/api/schedules/{mine['id']}"),
        ):
            response = await other.request(method, path)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "schedule_not_found"
    assert (await autoplat_client.get(f"/api/schedules/{mine['id']}")).status_code == 200


async def test_deleting_the_graph_deletes_its_schedules(
    autoplat_client: httpx.AsyncClient,
) -> None:
    graph_id = await new_graph(autoplat_client)
    kept_graph = await new_graph(autoplat_client)
    gone = await create(autoplat_client, graph_id)
    kept = await create(autoplat_client, kept_graph)
    response = await autoplat_client.delete(f"/api/graphs/{graph_id}")
    assert response.status_code == 200, response.text
    assert (await autoplat_client.get(f"/api/schedules/{gone['id']}")).status_code == 404
    assert (await autoplat_client.get(f"/api/schedules/{kept['id']}")).status_code == 200


async def test_a_seconds_schedule_fires_runs_over_http(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    graph_id = await new_graph(autoplat_client)
    await autoplat_platform.credits.add_credits("user-a", 100)
    created = await create(autoplat_client, graph_id, cron="* * * * * *")
    fires: list[dict[str, Any]] = []
    for _ in range(100):
        fires = (await autoplat_client.get(f"/api/schedules/{created['id']}/fires")).json()["items"]
        if any(f["status"] == "FIRED" for f in fires):
            break
        await asyncio.sleep(0.05)
    fired = [f for f in fires if f["status"] == "FIRED"]
    assert fired and fired[0]["graph_exec_id"]
    run = await autoplat_platform.db.executions.get_run(fired[0]["graph_exec_id"])
    assert run is not None and run.schedule_id == created["id"]
    assert run.graph_id == graph_id and run.inputs == {"x": "hi"}


async def test_admin_jobs_are_listed_for_admins_only(autoplat_platform: Platform) -> None:
    async with client_for(autoplat_platform, "root", role="admin") as admin:
        jobs = (await admin.get("/api/admin/jobs")).json()["items"]
        assert {j["name"] for j in jobs} == {
            "stuck_monitor",
            "retention",
            "file_expiry",
            *NOTIFICATION_JOBS,
        }
        ran = await admin.post("/api/admin/jobs/stuck_monitor/run")
        assert ran.status_code == 200, ran.text
        assert ran.json()["last_outcome"] == "ok" and ran.json()["last_run_at"]
        assert ran.json()["details"]["stuck_queued"] == 0
        assert (await admin.post("/api/admin/jobs/nope/run")).status_code == 404
    async with client_for(autoplat_platform, "someone") as user:
        assert (await user.get("/api/admin/jobs")).status_code == 403
