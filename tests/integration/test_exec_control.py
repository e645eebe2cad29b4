"""Failures, timeouts, retries, stop, per-user limits and events of executions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from autoplat.db.models import GraphExecution
from autoplat.executions.events import ExecutionEvent
from autoplat.graphs.model import Graph, Node
from autoplat.platform import Platform
from tests.support import graphs as tk
from tests.support.graphs import FlakyBlock, SleepBlock, link, node, output_node

USER = "user-a"


@pytest.fixture
async def platform(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    settings = tk.exec_settings(autoplat_database_url, tmp_path, node_retries=2)
    async with tk.exec_platform(settings, extra_blocks=[SleepBlock(), FlakyBlock()]) as p:
        yield p


async def _submit(platform: Platform, g: Graph, inputs: dict[str, Any] | None = None) -> str:
    saved = await tk.save_graph(platform.db, USER, g)
    return await platform.executions.submit(
        user_id=USER, graph_id=saved.id, graph_version=saved.version, inputs=inputs or {}
    )


async def _node_running(sub: Any, node_id: str) -> None:
    while True:
        event = await sub.get(timeout=5)
        if event.kind == "node" and event.data["node_id"] == node_id and event.status == "RUNNING":
            return


async def test_failing_node_fails_the_run_and_routes_its_error(platform: Platform) -> None:
    step = node(tk.STEP_THROUGH, items_str="{not json")
    caught = output_node("caught")
    g = tk.graph([step, caught], [link(step, "error", caught, "value")])
    row, nodes = await tk.run_graph(platform, g)
    assert row.status == "FAILED"
    failed = next(n for n in nodes if n.node_id == step.id)
    assert failed.status == "FAILED" and failed.error
    assert failed.output_data["error"] == [failed.error]
    assert row.error and failed.error in row.error
    assert row.outputs == {"caught": [failed.error]}  # error branches still run
    assert row.stats["node_error_count"] == 1


async def test_node_timeout_fails_the_node(platform: Platform) -> None:
    slow = Node(block_id=SleepBlock.id, input_default={"seconds": 5}, metadata={"timeout": 0.2})
    started = time.perf_counter()
    row, nodes = await tk.run_graph(platform, tk.graph([slow], []))
    assert time.perf_counter() - started < 3
    assert row.status == "FAILED"
    assert "timed out after 0.2 s" in (nodes[0].error or "")


async def test_transient_errors_are_retried(platform: Platform) -> None:
    flaky = node(FlakyBlock.id, fail_times=2)
    out = output_node("calls")
    g = tk.graph([flaky, out], [link(flaky, "calls", out, "value")])
    row, nodes = await tk.run_graph(platform, g)
    assert row.status == "COMPLETED"
    assert row.outputs == {"calls": [3]}
    assert next(n for n in nodes if n.node_id == flaky.id).stats["retries"] == 2


async def test_retries_give_up_after_the_limit(platform: Platform) -> None:
    row, nodes = await tk.run_graph(platform, tk.graph([node(FlakyBlock.id, fail_times=9)], []))
    assert row.status == "FAILED"
    assert nodes[0].error == "flaky call 3"


async def test_stop_ends_the_run_within_a_second(platform: Platform) -> None:
    slow = node(SleepBlock.id, seconds=30, value=1)
    after = node(tk.STORE_VALUE)
    g = tk.graph([slow, after], [link(slow, "value", after, "input")])
    with platform.executions.bus.subscribe(user_id=USER) as sub:
        run_id = await _submit(platform, g)
        await _node_running(sub, slow.id)
    started = time.perf_counter()
    await platform.executions.stop_execution(run_id, user_id=USER)
    row = await tk.wait_for_run(platform.db, run_id, timeout=2)
    assert time.perf_counter() - started < 1.0
    assert row.status == "TERMINATED"
    nodes = await platform.db.executions.get_nodes(run_id)
    assert [n.status for n in nodes] == ["TERMINATED"]  # the downstream node never started


async def test_stop_of_a_queued_run(platform: Platform) -> None:
    await platform.executions.stop(1.0)  # no workers: the run stays queued
    run_id = await _submit(platform, tk.graph([node(SleepBlock.id)], []))
    await platform.executions.stop_execution(run_id, user_id=USER)
    row = await platform.db.executions.get_run(run_id)
    assert row is not None and row.status == "TERMINATED"


async def test_stopping_a_parent_stops_its_child(platform: Platform) -> None:
    child = await tk.save_graph(
        platform.db, USER, tk.graph([node(SleepBlock.id, seconds=30)], [], "slow child")
    )
    agent = node(
        tk.AGENT_EXECUTOR,
        user_id=USER,
        graph_id=child.id,
        graph_version=child.version,
        inputs={},
        input_schema={"type": "object", "properties": {}},
        output_schema={"type": "object", "properties": {}},
    )
    with platform.executions.bus.subscribe(user_id=USER) as sub:
        run_id = await _submit(platform, tk.graph([agent], []))
        while True:  # the child's sleeping node is running
            event = await sub.get(timeout=5)
            assert isinstance(event, ExecutionEvent)
            is_sleep = event.kind == "node" and event.data["block_id"] == SleepBlock.id
            if is_sleep and event.status == "RUNNING":
                break
    started = time.perf_counter()
    await platform.executions.stop_execution(run_id, user_id=USER)
    row = await tk.wait_for_run(platform.db, run_id, timeout=2)
    assert time.perf_counter() - started < 1.0
    assert row.status == "TERMINATED"
    async with platform.db.begin() as conn:
        children = (
            await conn.execute(
                select(GraphExecution.status).where(GraphExecution.parent_node_exec_id.isnot(None))
            )
        ).all()
    assert [c.status for c in children] == ["TERMINATED"]


async def test_per_user_cap_keeps_the_rest_queued(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path, user_max_running=1)
    async with tk.exec_platform(settings, extra_blocks=[SleepBlock()]) as platform:
        g = tk.graph([node(SleepBlock.id, seconds=0.2)], [])
        mine = await tk.save_graph(platform.db, USER, g)
        theirs = await tk.save_graph(
            platform.db, "user-b", tk.graph([node(SleepBlock.id, seconds=0.2)], [])
        )
        running: dict[str, set[str]] = {USER: set(), "user-b": set()}
        most = {USER: 0, "user-b": 0}
        overlap = False
        with platform.executions.bus.subscribe() as sub:
            for _ in range(3):
                await platform.executions.submit(
                    user_id=USER, graph_id=mine.id, graph_version=mine.version
                )
            await platform.executions.submit(
                user_id="user-b", graph_id=theirs.id, graph_version=theirs.version
            )
            done = 0
            while done < 4:
                event = await sub.get(timeout=5)
                if event.kind != "graph":
                    continue
                now_running = running[event.user_id]
                if event.status == "RUNNING":
                    now_running.add(event.graph_exec_id)
                    most[event.user_id] = max(most[event.user_id], len(now_running))
                    overlap = overlap or all(running.values())
                elif event.status == "COMPLETED":
                    now_running.discard(event.graph_exec_id)
                    done += 1
        assert most == {USER: 1, "user-b": 1}
        assert overlap  # another user's run is not held back by this user's cap


async def test_events_announce_every_status_change_and_output(platform: Platform) -> None:
    g = tk.chain_graph(2)
    events: list[Any] = []
    with platform.executions.bus.subscribe(user_id=USER) as sub:
        run_id = await _submit(platform, g, {"x": 7})
        while True:
            event = await sub.get(timeout=5)
            events.append(event)
            if event.kind == "graph" and event.status == "COMPLETED":
                break
    assert all(e.graph_exec_id == run_id for e in events)
    graph_statuses = [e.status for e in events if e.kind == "graph"]
    assert graph_statuses == ["QUEUED", "RUNNING", "COMPLETED"]
    assert events[-1].data["outputs"] == {"result": [7]}
    nodes = await platform.db.executions.get_nodes(run_id)
    for n in nodes:
        mine = [e for e in events if e.kind == "node" and e.data["node_exec_id"] == n.id]
        statuses = [e.status for e in mine if not e.data["output_data"] or e.status != "RUNNING"]
        assert statuses[-1] == "COMPLETED"
        assert "RUNNING" in statuses
        outputs = [e.data["output_data"] for e in mine if e.status == "RUNNING"]
        outputs = [o for o in outputs if o]
        assert sum(len(v) for o in outputs for v in o.values()) == sum(
            len(v) for v in n.output_data.values()
        )


async def test_concurrent_runs_all_complete(platform: Platform) -> None:
    saved = await tk.save_graph(platform.db, USER, tk.chain_graph(3))
    ids = await asyncio.gather(
        *(
            platform.executions.submit(
                user_id=USER, graph_id=saved.id, graph_version=saved.version, inputs={"x": i}
            )
            for i in range(40)
        )
    )
    rows = [await tk.wait_for_run(platform.db, run_id, timeout=20) for run_id in ids]
    assert sorted(r.outputs["result"][0] for r in rows) == list(range(40))


@pytest.mark.parametrize("limit", ["graph_workers", "user_max_running"])
async def test_a_freed_worker_takes_the_next_queued_run_at_once(
    autoplat_database_url: str, tmp_path: Path, limit: str
) -> None:
    # Polls are 30 s apart: only the wake-up after a run ends can start the queued ones.
    settings = tk.exec_settings(autoplat_database_url, tmp_path, poll_interval=30, **{limit: 1})
    async with tk.exec_platform(settings, extra_blocks=[SleepBlock()]) as platform:
        saved = await tk.save_graph(
            platform.db, USER, tk.graph([node(SleepBlock.id, seconds=0.05)], [])
        )
        started = time.perf_counter()
        with platform.executions.bus.subscribe() as sub:
            ids = {
                await platform.executions.submit(
                    user_id=USER, graph_id=saved.id, graph_version=saved.version
                )
                for _ in range(3)
            }
            done: set[str] = set()
            while done != ids:
                event = await sub.get(timeout=5)
                if event.kind == "graph" and event.status == "COMPLETED":
                    done.add(event.graph_exec_id)
        assert time.perf_counter() - started < 3
