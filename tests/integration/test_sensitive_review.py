"""Graph settings and sensitive actions through the HTTP API (both databases).

``PATCH /api/graphs/{id}/settings`` changes the owner's review safe modes; with the
sensitive-action mode on, a node whose block is a sensitive action parks in REVIEW before
its block runs (holding no worker), runs with the data the reviewer approved (after a
restart too), and fails with the reviewer's message when rejected. The human-in-the-loop
mode off approves HumanInTheLoopBlock reviews at once; on, a rejection routes the data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.blocks.builtin.review import HumanInTheLoopBlock
from autoplat.blocks.schema import pin
from autoplat.config import Settings
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node
from tests.support.reviews import decide, pending_reviews, wait_for_status


class SendsForTheUser(Block["SendsForTheUser.Input"]):
    """Test-only sensitive action: 'sends' a message (kept in ``sent``) and says so."""

    class Input(BlockSchema):
        message: str = pin(description="What is sent.")

    class Output(BlockOutputSchema):
        sent: str = pin(description="What was sent.")

    id = "00000000-0000-4000-8000-00000000a11e"
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        self.sent.append(input_data.message)
        yield "sent", input_data.message


Env = tuple[Platform, httpx.AsyncClient, SendsForTheUser]


@asynccontextmanager
async def _platform(settings: Settings, sender: SendsForTheUser) -> AsyncIterator[Env]:
    async with (
        tk.exec_platform(settings, extra_blocks=[sender]) as platform,
        client_for(platform, TEST_USER_ID) as client,
    ):
        assert (await client.post("/api/auth/user")).status_code == 200
        yield platform, client, sender


def _settings(database_url: str, data_dir: Path) -> Settings:
    return tk.exec_settings(database_url, data_dir)


def _sending_graph() -> dict[str, Any]:
    given = input_node("text")
    send = node(SendsForTheUser.id)
    out = output_node("sent")
    g = tk.graph(
        [given, send, out],
        [link(given, "result", send, "message"), link(send, "sent", out, "value")],
    )
    return g.model_dump(mode="json")


def _review_graph() -> dict[str, Any]:
    given = input_node("profile")
    review = node(HumanInTheLoopBlock.id, name="Profile")
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


async def _new_graph(client: httpx.AsyncClient, graph: dict[str, Any]) -> dict[str, Any]:
    created = await client.post("/api/graphs", json={"graph": graph})
    assert created.status_code == 200, created.text
    body: dict[str, Any] = created.json()
    return body


async def _run(client: httpx.AsyncClient, graph: dict[str, Any], inputs: dict[str, Any]) -> str:
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    answer = await client.post(url, json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    run_id: str = answer.json()["id"]
    return run_id


async def _set(client: httpx.AsyncClient, graph_id: str, **modes: Any) -> httpx.Response:
    return await client.patch(f"/api/graphs/{graph_id}/settings", json=modes)


async def test_graph_settings_are_changed_by_their_owner_only(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(_settings(autoplat_database_url, tmp_path), SendsForTheUser()) as env:
        platform, client, _ = env
        graph = await _new_graph(client, _sending_graph())
        answer = await _set(client, graph["id"], sensitive_action_safe_mode=True)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "human_in_the_loop_safe_mode": True,
            "sensitive_action_safe_mode": True,
        }
        # Omitted modes keep their value.
        answer = await _set(client, graph["id"], human_in_the_loop_safe_mode=False)
        assert answer.json() == {
            "human_in_the_loop_safe_mode": False,
            "sensitive_action_safe_mode": True,
        }
        [entry] = (await client.get("/api/library/agents")).json()["items"]
        assert entry["settings"] == answer.json()
        bad = await _set(client, graph["id"], sensitive_action_safe_mode="maybe")
        assert bad.status_code == 422
        unknown = await _set(client, graph["id"], safe_mode=True)
        assert unknown.status_code == 422
        assert (
            await _set(client, "no-such-graph", sensitive_action_safe_mode=True)
        ).status_code == 404
        async with client_for(platform, "user-b") as other:
            theirs = await other.patch(
                f"/api/graphs/{graph['id']}/settings", json={"sensitive_action_safe_mode": False}
            )
            assert theirs.status_code == 404
        unchanged = await _set(client, graph["id"])
        assert unchanged.json()["sensitive_action_safe_mode"] is True


async def test_a_sensitive_action_waits_for_approval_and_runs_with_the_edited_input(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(_settings(autoplat_database_url, tmp_path), SendsForTheUser()) as env:
        platform, client, sender = env
        graph = await _new_graph(client, _sending_graph())
        # Off (the default): it runs at once.
        first = await _run(client, graph, {"text": "hello"})
        assert (await wait_for_status(platform, first, "COMPLETED")).outputs == {"sent": ["hello"]}
        assert sender.sent == ["hello"]

        assert (await _set(client, graph["id"], sensitive_action_safe_mode=True)).status_code == 200
        run_id = await _run(client, graph, {"text": "draft"})
        await wait_for_status(platform, run_id, "REVIEW")
        await asyncio.sleep(0.1)
        assert run_id not in platform.executions.active  # waiting holds no worker
        assert sender.sent == ["hello"]  # the block has not run
        [review] = await pending_reviews(client)
        assert review["payload"] == {"message": "draft"} and review["editable"]
        assert review["name"] == "SendsForTheUser" and review["graph_exec_id"] == run_id
        await decide(
            client,
            node_exec_id=review["node_exec_id"],
            approved=True,
            reviewed_data={"message": "final"},
        )
        row = await wait_for_status(platform, run_id, "COMPLETED")
        assert row.outputs == {"sent": ["final"]}
        assert sender.sent == ["hello", "final"]


async def test_a_rejected_sensitive_action_fails_its_node_with_the_reviewers_message(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(_settings(autoplat_database_url, tmp_path), SendsForTheUser()) as env:
        platform, client, sender = env
        graph = await _new_graph(client, _sending_graph())
        await _set(client, graph["id"], sensitive_action_safe_mode=True)
        run_id = await _run(client, graph, {"text": "rude"})
        await wait_for_status(platform, run_id, "REVIEW")
        [review] = await pending_reviews(client)
        await decide(
            client, node_exec_id=review["node_exec_id"], approved=False, message="too rude"
        )
        row = await wait_for_status(platform, run_id, "FAILED")
        assert sender.sent == []
        nodes = await platform.db.executions.get_nodes(run_id)
        [failed] = [n for n in nodes if n.block_id == SendsForTheUser.id]
        assert failed.status == "FAILED"
        assert failed.output_data["error"] == ["Block execution rejected by reviewer: too rude"]
        assert "too rude" in str(row.error)

        # Without a message, AutoGPT's words.
        again = await _run(client, graph, {"text": "rude"})
        await wait_for_status(platform, again, "REVIEW")
        [review] = await pending_reviews(client)
        await decide(client, node_exec_id=review["node_exec_id"], approved=False)
        await wait_for_status(platform, again, "FAILED")
        nodes = await platform.db.executions.get_nodes(again)
        [failed] = [n for n in nodes if n.block_id == SendsForTheUser.id]
        assert failed.output_data["error"] == [
            "Block execution rejected by reviewer: Execution rejected by reviewer"
        ]


async def test_an_approval_after_a_restart_runs_the_action_on_the_new_process(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = _settings(autoplat_database_url, tmp_path / "a")
    async with _platform(settings, SendsForTheUser()) as (platform, client, sender):
        graph = await _new_graph(client, _sending_graph())
        await _set(client, graph["id"], sensitive_action_safe_mode=True)
        run_id = await _run(client, graph, {"text": "later"})
        await wait_for_status(platform, run_id, "REVIEW")
        [review] = await pending_reviews(client)
        assert sender.sent == []
    restarted = _settings(autoplat_database_url, tmp_path / "b")
    async with _platform(restarted, SendsForTheUser()) as (platform, client, sender):
        await decide(client, node_exec_id=review["node_exec_id"], approved=True)
        row = await wait_for_status(platform, run_id, "COMPLETED")
        assert row.outputs == {"sent": ["later"]} and sender.sent == ["later"]


async def test_human_in_the_loop_reviews_follow_their_safe_mode(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(_settings(autoplat_database_url, tmp_path), SendsForTheUser()) as env:
        platform, client, _ = env
        graph = await _new_graph(client, _review_graph())
        # On (the default): a rejection routes the data and the message; the node completes.
        run_id = await _run(client, graph, {"profile": "draft"})
        await wait_for_status(platform, run_id, "REVIEW")
        [review] = await pending_reviews(client)
        await decide(client, node_exec_id=review["node_exec_id"], approved=False, message="no")
        row = await wait_for_status(platform, run_id, "COMPLETED")
        assert row.outputs == {"rejected": ["draft"], "said": ["no"]}
        # Off: approved at once, and said so.
        assert (
            await _set(client, graph["id"], human_in_the_loop_safe_mode=False)
        ).status_code == 200
        quick = await _run(client, graph, {"profile": "draft"})
        row = await wait_for_status(platform, quick, "COMPLETED")
        assert row.outputs == {
            "approved": ["draft"],
            "said": ["Auto-approved (safe mode disabled)"],
        }
        assert await pending_reviews(client) == []
