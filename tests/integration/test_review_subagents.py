"""A review inside a sub-agent through the HTTP API (both databases).

A child run that settles in REVIEW (a HumanInTheLoopBlock, or a sensitive action under the
parent graph's safe mode) parks the parent's sub-agent node and the parent run in REVIEW
too, neither holding a worker; the child's review is listed as pending; the decision
resumes the child under its parent (after a restart too), the parent's node then completes
with the child's outputs, and a rejection reaches the parent as the child's end implies.
Stopping the parent stops the child waiting under it.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.blocks.builtin.orchestrator import OrchestratorBlock
from autoplat.blocks.builtin.review import HumanInTheLoopBlock
from autoplat.blocks.schema import pin
from autoplat.config import Settings
from autoplat.db.queue import NODES
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node
from tests.support.reviews import decide, pending_reviews, wait_for_status
from tests.support.servers import FakeLlm, serve


class PostsForTheUser(Block["PostsForTheUser.Input"]):
    """Test-only sensitive action: 'posts' a message (kept in ``posted``) and says so."""

    class Input(BlockSchema):
        message: str = pin(description="What is posted.")

    class Output(BlockOutputSchema):
        posted: str = pin(description="What was posted.")

    id = "00000000-0000-4000-8000-00000000a12e"
    is_sensitive_action = True
    input_schema = Input
    output_schema = Output

    def __init__(self) -> None:
        self.posted: list[str] = []

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        self.posted.append(input_data.message)
        yield "posted", input_data.message


class Lingers(Block["Lingers.Input"]):
    """Test-only: passes its value on once the test releases it (``release``)."""

    class Input(BlockSchema):
        value: Any = pin(description="What is passed on.")

    class Output(BlockOutputSchema):
        value: Any = pin(description="The value, once released.")

    id = "00000000-0000-4000-8000-00000000a12f"
    input_schema = Input
    output_schema = Output

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        self.started.set()
        await self.release.wait()
        yield "value", input_data.value


Env = tuple[Platform, httpx.AsyncClient, PostsForTheUser]


@asynccontextmanager
async def _platform(
    database_url: str, data_dir: Path, lingers: Lingers | None = None, **overrides: Any
) -> AsyncIterator[Env]:
    settings: Settings = tk.exec_settings(database_url, data_dir, **overrides)
    poster = PostsForTheUser()
    extra: list[Block[Any]] = [poster] if lingers is None else [poster, lingers]
    async with (
        tk.exec_platform(settings, extra_blocks=extra) as platform,
        client_for(platform, TEST_USER_ID) as client,
    ):
        assert (await client.post("/api/auth/user")).status_code == 200
        yield platform, client, poster


def _review_child() -> dict[str, Any]:
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
        "reviewing child",
    )
    return g.model_dump(mode="json")


def _posting_child() -> dict[str, Any]:
    given = input_node("profile")
    post = node(PostsForTheUser.id)
    out = output_node("posted")
    g = tk.graph(
        [given, post, out],
        [link(given, "result", post, "message"), link(post, "posted", out, "value")],
        "posting child",
    )
    return g.model_dump(mode="json")


def _parent_of(child: dict[str, Any]) -> dict[str, Any]:
    """input ``profile`` -> a sub-agent node running ``child`` -> one output per child's."""
    given = input_node("profile")
    agent = node(
        catalog.AGENT_EXECUTOR,
        graph_id=child["id"],
        graph_version=child["version"],
        inputs={},
        input_schema=copy.deepcopy(child["input_schema"]),
        output_schema=copy.deepcopy(child["output_schema"]),
    )
    names = sorted(child["output_schema"]["properties"])
    outs = [output_node(name) for name in names]
    links = [link(given, "result", agent, "profile")]
    links += [link(agent, name, out, "value") for name, out in zip(names, outs, strict=True)]
    return tk.graph([given, agent, *outs], links, "parent").model_dump(mode="json")


async def _new_graph(client: httpx.AsyncClient, graph: dict[str, Any]) -> dict[str, Any]:
    created = await client.post("/api/graphs", json={"graph": graph})
    assert created.status_code == 200, created.text
    body: dict[str, Any] = created.json()
    return body


async def _parent(client: httpx.AsyncClient, child_graph: dict[str, Any]) -> dict[str, Any]:
    child = await _new_graph(client, child_graph)
    return await _new_graph(client, _parent_of(child))


async def _run(client: httpx.AsyncClient, graph: dict[str, Any], profile: Any) -> str:
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    answer = await client.post(url, json={"inputs": {"profile": profile}})
    assert answer.status_code == 200, answer.text
    run_id: str = answer.json()["id"]
    return run_id


async def _parked(platform: Platform, client: httpx.AsyncClient, parent_id: str) -> dict[str, Any]:
    """Wait until parent and child are both REVIEW; the child's one pending review."""
    await wait_for_status(platform, parent_id, "REVIEW")
    [review] = await pending_reviews(client)
    child = await wait_for_status(platform, review["graph_exec_id"], "REVIEW")
    [agent] = [
        n
        for n in await platform.db.executions.get_nodes(parent_id)
        if n.block_id == catalog.AGENT_EXECUTOR
    ]
    assert agent.status == "REVIEW"  # parked, not FAILED
    assert child.parent_node_exec_id == agent.id
    await asyncio.sleep(0.1)
    # Waiting for a person holds no worker, for either run.
    assert parent_id not in platform.executions.active
    assert child.id not in platform.executions.active
    return review


async def test_a_review_in_a_sub_agent_parks_its_parent_and_approval_completes_both(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path) as (platform, client, _):
        parent = await _parent(client, _review_child())
        parent_id = await _run(client, parent, {"name": "Ada", "age": 36})
        review = await _parked(platform, client, parent_id)
        assert review["payload"] == {"name": "Ada", "age": 36} and review["name"] == "Profile"
        decided = await decide(
            client,
            node_exec_id=review["node_exec_id"],
            approved=True,
            reviewed_data={"name": "Ada", "age": 37},
            message="one year on",
        )
        # The parent resumes (it takes the child back): no claim ever takes a child.
        assert decided == {"decided": 1, "resumed": [parent_id]}
        child = await wait_for_status(platform, review["graph_exec_id"], "COMPLETED")
        assert child.outputs == {"approved": [{"name": "Ada", "age": 37}], "said": ["one year on"]}
        row = await wait_for_status(platform, parent_id, "COMPLETED")
        assert row.outputs == {"approved": [{"name": "Ada", "age": 37}], "said": ["one year on"]}
        assert await pending_reviews(client) == []
        nodes = await platform.db.executions.get_nodes(parent_id)
        assert {n.status for n in nodes} == {"COMPLETED"}


async def test_an_approval_after_a_restart_resumes_the_child_and_its_parent(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path / "a") as (platform, client, _):
        parent = await _parent(client, _review_child())
        parent_id = await _run(client, parent, "draft")
        review = await _parked(platform, client, parent_id)
    # The process that ran both is gone; a new one on the same database takes over.
    async with _platform(autoplat_database_url, tmp_path / "b") as (platform, client, _):
        assert [r["node_exec_id"] for r in await pending_reviews(client)] == [
            review["node_exec_id"]
        ]
        await decide(client, node_exec_id=review["node_exec_id"], approved=True)
        child = await wait_for_status(platform, review["graph_exec_id"], "COMPLETED")
        assert child.outputs == {"approved": ["draft"]}
        row = await wait_for_status(platform, parent_id, "COMPLETED")
        assert row.outputs == {"approved": ["draft"]}
        assert row.stats["attempts"] == 2


async def test_a_rejection_in_a_sub_agent_routes_the_data_and_both_complete(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path) as (platform, client, _):
        parent = await _parent(client, _review_child())
        parent_id = await _run(client, parent, "draft")
        review = await _parked(platform, client, parent_id)
        await decide(client, node_exec_id=review["node_exec_id"], approved=False, message="no")
        await wait_for_status(platform, review["graph_exec_id"], "COMPLETED")
        row = await wait_for_status(platform, parent_id, "COMPLETED")
        assert row.outputs == {"rejected": ["draft"], "said": ["no"]}


async def test_a_sensitive_action_in_a_sub_agent_waits_under_the_parents_safe_mode(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path / "a") as (platform, client, poster):
        parent = await _parent(client, _posting_child())
        # The safe mode of the graph the user ran governs its sub-agents' nodes.
        patched = await client.patch(
            f"/api/graphs/{parent['id']}/settings", json={"sensitive_action_safe_mode": True}
        )
        assert patched.status_code == 200, patched.text
        parent_id = await _run(client, parent, "hello")
        review = await _parked(platform, client, parent_id)
        assert review["payload"] == {"message": "hello"} and poster.posted == []
    async with _platform(autoplat_database_url, tmp_path / "b") as (platform, client, poster):
        await decide(
            client,
            node_exec_id=review["node_exec_id"],
            approved=True,
            reviewed_data={"message": "hello, world"},
        )
        row = await wait_for_status(platform, parent_id, "COMPLETED")
        assert row.outputs == {"posted": ["hello, world"]}
        assert poster.posted == ["hello, world"]  # the action ran once, on the new process
        child = await wait_for_status(platform, review["graph_exec_id"], "COMPLETED")
        assert child.outputs == {"posted": ["hello, world"]}


async def test_a_rejected_sensitive_action_in_a_sub_agent_fails_child_and_parent(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path) as (platform, client, poster):
        parent = await _parent(client, _posting_child())
        await client.patch(
            f"/api/graphs/{parent['id']}/settings", json={"sensitive_action_safe_mode": True}
        )
        parent_id = await _run(client, parent, "rude")
        review = await _parked(platform, client, parent_id)
        await decide(
            client, node_exec_id=review["node_exec_id"], approved=False, message="too rude"
        )
        child = await wait_for_status(platform, review["graph_exec_id"], "FAILED")
        assert "too rude" in str(child.error)
        row = await wait_for_status(platform, parent_id, "FAILED")
        assert poster.posted == []
        [agent] = [
            n
            for n in await platform.db.executions.get_nodes(parent_id)
            if n.block_id == catalog.AGENT_EXECUTOR
        ]
        assert agent.status == "FAILED"
        assert f"sub-agent run {child.id} ended FAILED" in agent.output_data["error"][0]
        assert "too rude" in str(row.error)


async def test_stopping_a_parent_waiting_on_its_sub_agent_stops_the_child(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path) as (platform, client, _):
        parent = await _parent(client, _review_child())
        parent_id = await _run(client, parent, "draft")
        review = await _parked(platform, client, parent_id)
        stopped = await client.post(f"/api/graphs/{parent['id']}/executions/{parent_id}/stop")
        assert stopped.status_code in (200, 202), stopped.text
        await wait_for_status(platform, parent_id, "TERMINATED")
        child = await wait_for_status(platform, review["graph_exec_id"], "TERMINATED")
        assert child.ended_at is not None
        child_nodes = await platform.db.executions.get_nodes(child.id)
        assert "REVIEW" not in {n.status for n in child_nodes}
        # Its review is closed (no list keeps offering it) and a late decision does nothing.
        assert await pending_reviews(client) == []
        listed = await client.get(f"/api/review/execution/{child.id}")
        [closed] = listed.json()["reviews"]
        assert closed["status"] == "REJECTED" and closed["message"]
        late = await decide(client, node_exec_id=review["node_exec_id"], approved=True)
        assert late == {"decided": 0, "resumed": []}
        await asyncio.sleep(0.2)
        assert (await wait_for_status(platform, parent_id, "TERMINATED")).ended_at is not None


async def _busy_parent(
    platform: Platform, client: httpx.AsyncClient, lingers: Lingers
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A parent whose sub-agent parked while a second branch (Lingers) keeps it RUNNING:
    the parent graph, its run and the child's pending review."""
    child = await _new_graph(client, _review_child())
    graph = _parent_of(child)
    given = next(n for n in graph["nodes"] if n["block_id"] == catalog.AGENT_INPUT)
    slow, out = node(Lingers.id), output_node("lingered")
    graph["nodes"] += [slow.model_dump(mode="json"), out.model_dump(mode="json")]
    graph["links"] += [
        {
            "source_id": given["id"],
            "source_name": "result",
            "sink_id": slow.id,
            "sink_name": "value",
        },
        {"source_id": slow.id, "source_name": "value", "sink_id": out.id, "sink_name": "value"},
    ]
    parent = await _new_graph(client, graph)
    parent_id = await _run(client, parent, "draft")
    await asyncio.wait_for(lingers.started.wait(), 10)
    pending: list[dict[str, Any]] = []
    for _ in range(500):
        pending = await pending_reviews(client)
        nodes = await platform.db.executions.get_nodes(parent_id)
        if pending and "REVIEW" in {n.status for n in nodes}:
            break
        await asyncio.sleep(0.02)
    [review] = pending
    busy = await platform.db.executions.get_run(parent_id)
    assert busy is not None and busy.status == "RUNNING"
    return parent, parent_id, review


async def test_a_decision_taken_while_the_parent_is_still_busy_resumes_it_once_it_settles(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    lingers = Lingers()
    async with _platform(autoplat_database_url, tmp_path, lingers) as (platform, client, _):
        _, parent_id, review = await _busy_parent(platform, client, lingers)
        decided = await decide(client, node_exec_id=review["node_exec_id"], approved=True)
        assert decided == {"decided": 1, "resumed": []}  # the parent is not waiting yet
        lingers.release.set()
        row = await wait_for_status(platform, parent_id, "COMPLETED")
        assert row.outputs == {"approved": ["draft"], "lingered": ["draft"]}


async def test_a_sub_agent_run_as_a_tool_cannot_wait_for_a_review_and_the_model_is_told(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeLlm()
    arguments = json.dumps({"profile": "draft"})
    fake.replies = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "review", "arguments": arguments},
                }
            ],
        },
        "The review could not happen.",
    ]
    async with (
        serve(fake.app()) as url,
        _platform(
            autoplat_database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key="sk-test"
        ) as (platform, client, _),
    ):
        child = await _new_graph(client, _review_child())
        task = input_node("task")
        orch = node(
            OrchestratorBlock.id,
            model="gpt-4o-mini",
            sys_prompt="Use the tools.",
            agent_mode_max_iterations=3,
        )
        sub = node(
            catalog.AGENT_EXECUTOR,
            graph_id=child["id"],
            graph_version=child["version"],
            inputs={},
            input_schema=copy.deepcopy(child["input_schema"]),
            output_schema=copy.deepcopy(child["output_schema"]),
        )
        out = output_node("answer")
        g = tk.graph(
            [task, orch, sub, out],
            [
                link(task, "result", orch, "prompt", static=True),
                link(orch, "tools_^_review_~_profile", sub, "profile"),
                link(orch, "finished", out, "value"),
            ],
        )
        parent = await _new_graph(client, g.model_dump(mode="json"))
        url_run = f"/api/graphs/{parent['id']}/execute/{parent['version']}"
        answer = await client.post(url_run, json={"inputs": {"task": "Review it"}})
        assert answer.status_code == 200, answer.text
        row = await wait_for_status(platform, answer.json()["id"], "COMPLETED")
        assert row.outputs == {"answer": ["The review could not happen."]}
        told = fake.requests[1]["messages"][-1]
        assert told["tool_call_id"] == "c1"
        assert "cannot wait for" in told["content"] and "human review" in told["content"]
        # The child that parked is ended, and its review closed: nothing dangles.
        [tool] = [
            n
            for n in await platform.db.executions.get_nodes(row.id)
            if n.block_id == catalog.AGENT_EXECUTOR
        ]
        assert tool.status == "FAILED"
        child_id = str((tool.stats or {})["sub_agent_run"])
        child_row = await wait_for_status(platform, child_id, "TERMINATED")
        assert "cannot wait for" in str(child_row.error)
        assert await pending_reviews(client) == []


async def test_stopping_a_busy_parent_stops_the_sub_agent_parked_under_it(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    lingers = Lingers()
    async with _platform(autoplat_database_url, tmp_path, lingers) as (platform, client, _):
        parent, parent_id, review = await _busy_parent(platform, client, lingers)
        stopped = await client.post(f"/api/graphs/{parent['id']}/executions/{parent_id}/stop")
        assert stopped.status_code in (200, 202), stopped.text
        await wait_for_status(platform, parent_id, "TERMINATED")
        child = await wait_for_status(platform, review["graph_exec_id"], "TERMINATED")
        assert child.error == "its parent run ended"
        assert await pending_reviews(client) == []


async def test_a_review_two_sub_agents_deep_parks_every_run_above_it_and_approval_completes_all(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with _platform(autoplat_database_url, tmp_path) as (platform, client, _):
        inner = await _new_graph(client, _review_child())
        middle = await _new_graph(client, _parent_of(inner))
        top = await _new_graph(client, _parent_of(middle))
        top_id = await _run(client, top, "deep")
        await wait_for_status(platform, top_id, "REVIEW")
        [review] = await pending_reviews(client)
        inner_run = await wait_for_status(platform, review["graph_exec_id"], "REVIEW")
        # The run between them is parked too, under the top run's sub-agent node.
        async with platform.db.engine.connect() as conn:
            middle_id = await conn.scalar(
                select(NODES.c.graph_exec_id).where(NODES.c.id == inner_run.parent_node_exec_id)
            )
        middle_run = await wait_for_status(platform, str(middle_id), "REVIEW")
        [agent] = [
            n
            for n in await platform.db.executions.get_nodes(top_id)
            if n.block_id == catalog.AGENT_EXECUTOR
        ]
        assert middle_run.parent_node_exec_id == agent.id and agent.status == "REVIEW"
        decided = await decide(client, node_exec_id=review["node_exec_id"], approved=True)
        assert decided == {"decided": 1, "resumed": [top_id]}
        row = await wait_for_status(platform, top_id, "COMPLETED")
        assert row.outputs == {"approved": ["deep"]}
        for run_id in (inner_run.id, middle_run.id):
            assert (await wait_for_status(platform, run_id, "COMPLETED")).outputs == {
                "approved": ["deep"]
            }
