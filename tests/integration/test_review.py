"""Human in the loop: a run pauses for a person (holding no worker), the decision resumes it
where it paused — edited data, rejection, another user, and a server restart between
(both databases)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from autoplat.blocks.builtin.review import HumanInTheLoopBlock
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for, make_settings, running_platform
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node
from tests.support.reviews import pending_reviews, wait_for_status


def _graph() -> dict[str, Any]:
    given = input_node("profile")
    review = node(HumanInTheLoopBlock.id, name="User profile")
    approved, rejected, said = output_node("approved"), output_node("rejected"), output_node("said")
    g = tk.graph(
        [given, review, approved, rejected, said],
        [
            link(given, "result", review, "data"),
            link(review, "approved_data", approved, "value"),
            link(review, "rejected_data", rejected, "value"),
            link(review, "review_message", said, "value"),
        ],
    )
    return g.model_dump(mode="json")


async def _start(platform: Platform, client: httpx.AsyncClient, data: Any) -> str:
    await platform.db.users.ensure(TEST_USER_ID)
    await platform.credits.add_credits(TEST_USER_ID, 100)
    created = await client.post("/api/graphs", json={"graph": _graph()})
    assert created.status_code == 200, created.text
    graph = created.json()
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    answer = await client.post(url, json={"inputs": {"profile": data}})
    assert answer.status_code == 200, answer.text
    run_id: str = answer.json()["id"]
    return run_id


async def test_a_run_waits_for_review_holding_no_worker_and_resumes_with_the_edited_data(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with running_platform(make_settings(autoplat_database_url, tmp_path)) as (p, client):
        run_id = await _start(p, client, {"name": "John", "age": 30})
        await wait_for_status(p, run_id, "REVIEW")
        await asyncio.sleep(0.1)
        assert run_id not in p.executions.active  # waiting for a person holds no worker
        [review] = await pending_reviews(client)
        assert review["payload"] == {"name": "John", "age": 30} and review["editable"]
        assert review["graph_exec_id"] == run_id and review["name"] == "User profile"
        nodes = await p.db.executions.get_nodes(run_id)
        assert "REVIEW" in {n.status for n in nodes}
        decision = {
            "node_exec_id": review["node_exec_id"],
            "approved": True,
            "reviewed_data": {"name": "John", "age": 31},
            "message": "fixed the age",
        }
        done = await client.post("/api/review/action", json={"reviews": [decision]})
        assert done.status_code == 200, done.text
        assert done.json() == {"decided": 1, "resumed": [run_id]}
        row = await wait_for_status(p, run_id, "COMPLETED")
        assert row.outputs == {"approved": [{"name": "John", "age": 31}], "said": ["fixed the age"]}
        assert await pending_reviews(client) == []
        again = await client.post("/api/review/action", json={"reviews": [decision]})
        assert again.json() == {"decided": 0, "resumed": []}  # a decision is taken once


async def test_a_rejection_sends_the_data_down_the_rejected_pin(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with running_platform(make_settings(autoplat_database_url, tmp_path)) as (p, client):
        run_id = await _start(p, client, "draft")
        await wait_for_status(p, run_id, "REVIEW")
        [review] = await pending_reviews(client)
        body = {"reviews": [{"node_exec_id": review["node_exec_id"], "approved": False}]}
        assert (await client.post("/api/review/action", json=body)).status_code == 200
        row = await wait_for_status(p, run_id, "COMPLETED")
        assert row.outputs == {"rejected": ["draft"]}


async def test_another_user_neither_sees_nor_decides_a_review(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with running_platform(make_settings(autoplat_database_url, tmp_path)) as (p, client):
        run_id = await _start(p, client, 1)
        await wait_for_status(p, run_id, "REVIEW")
        [review] = await pending_reviews(client)
        async with client_for(p, "user-b") as other:
            assert await pending_reviews(other) == []
            assert (await other.get(f"/api/review/execution/{run_id}")).status_code == 404
            body = {"reviews": [{"node_exec_id": review["node_exec_id"], "approved": True}]}
            answer = await other.post("/api/review/action", json=body)
            assert answer.json() == {"decided": 0, "resumed": []}
        listed = await client.get(f"/api/review/execution/{run_id}")
        assert [r["status"] for r in listed.json()["reviews"]] == ["WAITING"]
        stopped = await client.post(f"/api/graphs/{review['graph_id']}/executions/{run_id}/stop")
        assert stopped.status_code in (200, 202), stopped.text
        row = await wait_for_status(p, run_id, "TERMINATED")
        assert row.ended_at is not None


async def test_a_review_paused_across_a_server_restart_resumes_on_approval(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(autoplat_database_url, tmp_path)
    async with running_platform(settings) as (first, client):
        run_id = await _start(first, client, {"step": 1})
        await wait_for_status(first, run_id, "REVIEW")
    # The server that ran it is gone; a new one (another process in production) takes over.
    async with running_platform(settings) as (second, client):
        [review] = await pending_reviews(client)
        body = {"reviews": [{"node_exec_id": review["node_exec_id"], "approved": True}]}
        assert (await client.post("/api/review/action", json=body)).status_code == 200
        row = await wait_for_status(second, run_id, "COMPLETED")
        assert row.outputs == {"approved": [{"step": 1}]}
        assert row.stats["attempts"] == 2
