"""Two platforms on one database (two worker identities): stop and events across them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from autoplat.db.models import GraphExecution
from autoplat.executions.events import ExecutionEvent
from autoplat.platform import Platform
from autoplat.testing import PG_ENV
from tests.support import graphs as tk
from tests.support.graphs import SleepBlock

USER = "user-a"
Pair = tuple[Platform, Platform]


@pytest.fixture
async def pair(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    runner_settings = tk.exec_settings(autoplat_database_url, tmp_path / "a")
    other_settings = tk.exec_settings(autoplat_database_url, tmp_path / "b")
    async with (
        tk.exec_platform(runner_settings, extra_blocks=[SleepBlock()]) as runner,
        tk.exec_platform(other_settings, extra_blocks=[SleepBlock()]) as other,
    ):
        yield runner, other


async def test_stop_reaches_a_run_on_another_process(pair: Pair) -> None:
    runner, other = pair  # a submit starts the run on the submitting platform, if it can
    run_id = await tk.start_sleeping_run(runner, USER)
    assert run_id in runner.executions.active and run_id not in other.executions.active
    started = time.perf_counter()
    await other.executions.stop_execution(run_id, user_id=USER)
    row = await tk.wait_for_run(other.db, run_id, timeout=3)
    assert time.perf_counter() - started < 1.0
    assert row.status == "TERMINATED"


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason="events cross processes by LISTEN/NOTIFY")
async def test_events_of_a_run_reach_another_process(pair: Pair) -> None:
    runner, other = pair
    saved = await tk.save_graph(runner.db, USER, tk.chain_graph(2))
    with other.executions.bus.subscribe(user_id=USER) as sub:
        run_id = await runner.executions.submit(
            user_id=USER, graph_id=saved.id, graph_version=saved.version, inputs={"x": 5}
        )
        seen: list[ExecutionEvent] = []
        while True:
            event = await sub.get(timeout=5)
            assert isinstance(event, ExecutionEvent)
            seen.append(event)
            if event.kind == "graph" and event.status == "COMPLETED":
                break
    assert run_id not in other.executions.active
    assert seen[-1].data["outputs"] == {"result": [5]}
    node_ids = {e.data["node_exec_id"] for e in seen if e.kind == "node"}
    assert len(node_ids) == 4


async def test_a_process_that_loses_its_lease_stops_and_writes_nothing(pair: Pair) -> None:
    runner, _ = pair
    run_id = await tk.start_sleeping_run(runner, USER)
    async with runner.db.begin() as conn:  # another process took the run over
        await conn.execute(
            update(GraphExecution).where(GraphExecution.id == run_id).values(lease_owner="thief")
        )
    for _ in range(100):
        if run_id not in runner.executions.active:
            break
        await asyncio.sleep(0.02)
    assert run_id not in runner.executions.active
    row = await runner.db.executions.get_run(run_id)
    assert row is not None and (row.status, row.lease_owner) == ("RUNNING", "thief")
    assert [n.status for n in await runner.db.executions.get_nodes(run_id)] == ["RUNNING"]


async def test_a_drained_run_is_handed_back_at_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    # A lease far longer than the wait below: a run taken over only once its lease ran out
    # cannot pass, however slowly a loaded machine lets the second platform start.
    lease = 300.0
    # The drain cuts the 30 s sleep short (runs get 70 % of it) and leaves the hand-back
    # seconds, not the few milliseconds a 0.2 s budget leaves it on a loaded machine.
    quick_drain = tk.exec_settings(
        autoplat_database_url, tmp_path / "a", drain_timeout=10, lease_seconds=lease
    )
    async with tk.exec_platform(quick_drain, extra_blocks=[SleepBlock()]) as first:
        run_id = await tk.start_sleeping_run(first, USER)
    stopped = time.monotonic()
    # The first platform has stopped mid-run; the lease was given back, not left.
    second_settings = tk.exec_settings(autoplat_database_url, tmp_path / "b", lease_seconds=lease)
    async with tk.exec_platform(second_settings, extra_blocks=[SleepBlock()]) as second:
        for _ in range(3000):  # 60 s or more: generous, and it ends once the run is taken
            if run_id in second.executions.active:
                break
            await asyncio.sleep(0.02)
        assert run_id in second.executions.active
        assert time.monotonic() - stopped < lease / 2
        row = await second.db.executions.get_run(run_id)
        assert row is not None and row.attempts == 2
        await second.executions.stop_execution(run_id, user_id=USER)
        assert (await tk.wait_for_run(second.db, run_id, timeout=60)).status == "TERMINATED"
