"""The execution core under faults: lost leases, stale instances, dead workers, children,
unstartable runs, crash re-runs and the shutdown bound (both databases)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import delete, func, select, update

from autoplat.blocks.base import (
    Block,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.db.models import GraphExecution, NodeExecution, Worker
from autoplat.db.types import utcnow
from autoplat.executions import worker
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.newrun import new_run_rows
from autoplat.platform import Platform
from tests.support import graphs as tk
from tests.support.graphs import SleepBlock, link, node, output_node

USER = "user-a"


class CountedSleep(Block["CountedSleep.Input"]):
    """Test-only block: records each start, sleeps, emits its input."""

    starts: ClassVar[list[float]] = []

    class Input(BlockSchema):
        value: Any = None
        seconds: float = 0.2

    class Output(BlockOutputSchema):
        value: Any = None

    id = "00000000-0000-4000-8000-00000000c0a7"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        CountedSleep.starts.append(time.monotonic())
        await asyncio.sleep(input_data.seconds)
        yield "value", input_data.value


@pytest.fixture
async def platform(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    # A short drain: a test may leave a long sleep running, and nothing is checked once it
    # ends, so the stop cuts the sleep short within a second instead of waiting out most of
    # make_settings' five.
    settings = tk.exec_settings(
        autoplat_database_url, tmp_path, lease_seconds=2.0, node_concurrency=2, drain_timeout=1.0
    )
    async with tk.exec_platform(settings, extra_blocks=[SleepBlock(), CountedSleep()]) as p:
        yield p


@pytest.fixture
def reap_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reaper looks for children of dead processes every 0.2 s instead of every 5 s
    (requested before ``platform``, so its loop starts with the short period)."""
    monkeypatch.setattr(worker, "REAP_EVERY", 0.2)


async def _submit(platform: Platform, g: Any, inputs: Mapping[str, Any] | None = None) -> str:
    saved = await tk.save_graph(platform.db, USER, g)
    return await platform.executions.submit(
        user_id=USER, graph_id=saved.id, graph_version=saved.version, inputs=dict(inputs or {})
    )


def _fanout(items: int, seconds: float) -> Any:
    step = node(tk.STEP_THROUGH, items=list(range(items)))
    work = node(CountedSleep.id, seconds=seconds)
    return tk.graph([step, work], [link(step, "item", work, "value")])


async def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def _node_rows(platform: Platform, run_id: str) -> int:
    async with platform.db.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(NodeExecution)
            .where(NodeExecution.graph_exec_id == run_id)
        )
    return int(count or 0)


@pytest.mark.parametrize("taker", ["another process", "this process again"])
async def test_a_run_taken_over_starts_charges_and_writes_nothing_more(
    platform: Platform, taker: str
) -> None:
    CountedSleep.starts.clear()
    run_id = await _submit(platform, _fanout(20, 0.3))
    await _eventually(lambda: len(CountedSleep.starts) >= 2)  # the first two items run
    owner = platform.executions.owner if taker == "this process again" else "other:1:x"
    async with platform.db.begin() as conn:
        # What a claim by someone else (or a re-claim of our own lapsed lease) writes.
        await conn.execute(
            update(GraphExecution)
            .where(GraphExecution.id == run_id)
            .values(
                lease_owner=owner,
                attempts=GraphExecution.attempts + 1,
                lease_expires_at=utcnow() + timedelta(hours=1),  # the taker renews it
            )
        )
    taken_at = time.monotonic()
    await asyncio.sleep(1.5)  # several renewals
    rows = await _node_rows(platform, run_id)
    await asyncio.sleep(1.0)
    assert run_id not in platform.executions.active
    assert [s for s in CountedSleep.starts if s > taken_at + 0.6] == []
    assert await _node_rows(platform, run_id) == rows  # nothing written after the loss
    row = await platform.db.executions.get_run(run_id)
    assert row is not None and row.status == "RUNNING" and row.lease_owner == owner


async def test_an_unstartable_run_ends_failed_with_its_event_and_node_rows(
    platform: Platform,
) -> None:
    saved = await tk.save_graph(platform.db, USER, tk.chain_graph(2))
    graph = await platform.executions.graph_for(USER, saved.id, saved.version)
    run, nodes = new_run_rows(USER, graph, {})
    run.graph_version = 999  # a version that does not exist
    with platform.executions.bus.subscribe(user_id=USER, graph_exec_id=run.id) as sub:
        await platform.db.executions.submit([run], nodes)
        platform.executions.wake()
        row = await tk.wait_for_run(platform.db, run.id)
        event = await sub.get(timeout=5)
    assert row.status == "FAILED" and row.error and "999" in row.error
    assert isinstance(event, ExecutionEvent) and event.status == "FAILED"
    assert {n.status for n in await platform.db.executions.get_nodes(run.id)} == {"TERMINATED"}


async def test_a_failed_child_fails_the_parent_node(platform: Platform) -> None:
    bad = node(tk.STEP_THROUGH, items_str="{not json")
    child = await tk.save_graph(platform.db, USER, tk.graph([bad], [], "failing child"))
    agent = node(
        tk.AGENT_EXECUTOR,
        user_id=USER,
        graph_id=child.id,
        graph_version=child.version,
        inputs={},
        input_schema={"type": "object", "properties": {}},
        output_schema={"type": "object", "properties": {}},
    )
    run_id = await _submit(platform, tk.graph([agent], []))
    row = await tk.wait_for_run(platform.db, run_id)
    assert row.status == "FAILED"
    parent_node = (await platform.db.executions.get_nodes(run_id))[0]
    assert parent_node.status == "FAILED"
    assert parent_node.error and "ended FAILED" in parent_node.error


async def test_a_child_whose_process_died_is_failed(reap_often: None, platform: Platform) -> None:
    saved = await tk.save_graph(platform.db, USER, tk.graph([node(SleepBlock.id)], []))
    graph = await platform.executions.graph_for(USER, saved.id, saved.version)
    # A child held by a process that died before its parent's node row was written.
    run, nodes = new_run_rows(
        USER, graph, {}, parent=str(uuid.uuid4()), owner="dead:1:x", lease_seconds=-60
    )
    await platform.db.executions.submit([run], nodes)
    row = await tk.wait_for_run(platform.db, run.id, timeout=15)
    assert row.status == "FAILED" and row.error == "the process running it stopped"


async def test_a_dead_workers_runs_are_adopted_at_once_and_a_live_ones_are_not(
    platform: Platform, autoplat_database_url: str, tmp_path: Path
) -> None:
    saved = await tk.save_graph(platform.db, USER, tk.graph([node(SleepBlock.id)], []))
    graph = await platform.executions.graph_for(USER, saved.id, saved.version)
    orphan, nodes = new_run_rows(USER, graph, {}, owner="dead:1:x", lease_seconds=3600)
    async with platform.db.begin() as conn:
        await conn.execute(
            Worker.__table__.insert(),  # type: ignore[attr-defined]
            [{"id": "dead:1:x", "instance": "gone:8006", "pid": 1, "started_at": utcnow()}],
        )
    await platform.db.executions.submit([orphan], nodes)
    slow = await _submit(platform, tk.graph([node(SleepBlock.id, seconds=30)], []))
    settings = tk.exec_settings(autoplat_database_url, tmp_path / "second", lease_seconds=2.0)
    async with tk.exec_platform(settings, extra_blocks=[SleepBlock()]) as second:
        # The dead worker's run (its lease an hour from now) finishes without waiting.
        row = await tk.wait_for_run(second.db, orphan.id, timeout=5)
        assert row.status == "COMPLETED"
        live = await second.db.executions.get_run(slow)
        assert live is not None and live.lease_owner == platform.executions.owner
        assert slow not in second.executions.active
        async with second.db.engine.connect() as conn:
            stopped = await conn.scalar(select(Worker.stopped_at).where(Worker.id == "dead:1:x"))
        assert stopped is not None


async def test_a_node_run_again_after_a_crash_is_not_charged_twice(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(
        autoplat_database_url,
        tmp_path,
        credits_enabled=True,
        lease_seconds=2.0,
        block_costs={CountedSleep.id: [{"cost_amount": 1}]},
    )
    async with tk.exec_platform(settings, extra_blocks=[CountedSleep()]) as platform:
        await platform.db.users.ensure(USER)
        await platform.credits.add_credits(USER, 100)
        first = node(CountedSleep.id, seconds=0, value=1)
        second = node(CountedSleep.id, seconds=0)
        g = tk.graph([first, second], [link(first, "value", second, "value")])
        row, done = await tk.run_graph(platform, g)
        assert row.status == "COMPLETED" and await platform.credits.balance(USER) == 98
        # The state a crash leaves when the first node's end was not yet durable: it is
        # RUNNING, the second node's row (which waited on it) was never written.
        by_node = {n.node_id: n for n in done}
        async with platform.db.begin() as conn:
            await conn.execute(
                delete(NodeExecution).where(NodeExecution.id == by_node[second.id].id)
            )
            await conn.execute(
                update(NodeExecution)
                .where(NodeExecution.id == by_node[first.id].id)
                .values(status="RUNNING", output_data={})
            )
            await conn.execute(
                update(GraphExecution)
                .where(GraphExecution.id == row.id)
                .values(
                    status="RUNNING",
                    ended_at=None,
                    lease_owner="dead:1:x",
                    lease_expires_at=utcnow() - timedelta(seconds=1),
                )
            )
        platform.executions.wake()
        again = await _wait_status(platform, row.id, "COMPLETED")
        assert again.attempts == 2
        assert await platform.credits.balance(USER) == 98  # both nodes ran again, unbilled
        nodes = await platform.db.executions.get_nodes(row.id)
        assert sorted(n.status for n in nodes) == ["COMPLETED", "COMPLETED"]


async def _wait_status(platform: Platform, run_id: str, status: str) -> Any:
    deadline = time.monotonic() + 10
    while True:
        row = await platform.db.executions.get_run(run_id)
        if row is not None and row.status == status:
            return row
        assert time.monotonic() < deadline, f"run still {row.status if row else None}"
        await asyncio.sleep(0.05)


async def test_the_whole_shutdown_takes_one_drain_timeout(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path, drain_timeout=1.5)
    async with tk.exec_platform(settings, extra_blocks=[SleepBlock()]) as platform:
        g = tk.graph([node(SleepBlock.id, seconds=60)], [])
        run_id = await _submit(platform, g)
        await _eventually(lambda: run_id in platform.executions.active)
        began = time.monotonic()
    took = time.monotonic() - began
    assert took < 1.5 + 0.5, took


async def test_outputs_with_unstorable_values_are_stored_sanitized(platform: Platform) -> None:
    value = {"text": "a\x00b", "lone": "\ud800", "ok": "é"}
    out = output_node("out")
    store = node(tk.STORE_VALUE, input=value)
    row, _ = await tk.run_graph(
        platform, tk.graph([store, out], [link(store, "output", out, "value")])
    )
    assert row.status == "COMPLETED"
    assert row.outputs == {"out": [{"text": "a\ufffdb", "lone": "\ufffd", "ok": "é"}]}


async def test_a_fast_chain_holds_a_bounded_number_of_unwritten_rows(platform: Platform) -> None:
    from autoplat.executions.run import PENDING_LIMIT

    saved = await tk.save_graph(platform.db, USER, tk.chain_graph(3000))
    run_id = await platform.executions.submit(
        user_id=USER, graph_id=saved.id, graph_version=saved.version, inputs={"x": 1}
    )
    most_pending = most_live = 0
    for _ in range(6000):
        run = platform.executions.active.get(run_id)
        if run is not None:
            most_pending = max(most_pending, len(run.journal.pending))
            most_live = max(most_live, len(run.journal.live))
        row = await platform.db.executions.get_run(run_id)
        if row is not None and row.status == "COMPLETED":
            break
        await asyncio.sleep(0)
    assert row is not None and row.status == "COMPLETED"
    # The run waits for the database instead of racing ahead of it with its history.
    assert PENDING_LIMIT == 1000
    assert 0 < most_pending <= 1010
    assert most_live <= 1010
