"""Schedules fire on time, once, through the scheduler loop (both databases)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.models import GraphExecution, ScheduleFire
from autoplat.db.schedules import ScheduleRecord
from autoplat.graphs import catalog
from autoplat.graphs.service import GraphService
from autoplat.platform import Platform
from autoplat.scheduler.clock import SystemClock
from autoplat.scheduler.cron import CronSpec
from autoplat.scheduler.firing import FireBatcher
from autoplat.testing import make_settings

USER = "user-sched"


def echo_graph() -> dict[str, Any]:
    """Input x -> Output y: the smallest graph a schedule can run."""
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "Echo", "nodes": nodes, "links": links}}


def sched_platform(url: str, data_dir: Path, **overrides: Any) -> Platform:
    """A platform without HTTP whose scheduler fires into the real executor (credits off)."""
    settings = make_settings(url, data_dir, **{"credits_enabled": False, **overrides})
    return Platform(settings, serve_http=False)


async def add_schedule(
    platform: Platform, cron: str, tz: str = "UTC", *, graph_id: str | None = None
) -> ScheduleRecord:
    """A schedule of the echo graph (a new one unless ``graph_id``), timed at once."""
    await platform.db.users.ensure(USER)
    if graph_id is None:
        graph = await GraphService(platform.db.graphs, platform.blocks).create(USER, echo_graph())
    else:
        found = await platform.db.graphs.get(graph_id)
        assert found is not None
        graph = found
    spec = CronSpec.parse(cron, tz)
    record = await platform.db.schedules.create(
        user_id=USER,
        graph_id=graph.id,
        graph_version=graph.version,
        name="every second",
        cron=spec.expr,
        timezone=tz,
        inputs={"x": "tick"},
        fires_from=platform.scheduler.now(),
    )
    platform.scheduler.schedule_changed(record)
    return record


async def test_seconds_cron_fires_on_time(autoplat_database_url: str, tmp_path: Path) -> None:
    async with sched_platform(autoplat_database_url, tmp_path) as platform:
        record = await add_schedule(platform, "* * * * * *")
        await asyncio.sleep(3.3)
        async with platform.db.begin() as conn:
            fires = (
                await conn.execute(
                    select(ScheduleFire).where(ScheduleFire.schedule_id == record.id)
                )
            ).all()
            runs = (
                await conn.execute(
                    select(GraphExecution).where(GraphExecution.schedule_id == record.id)
                )
            ).all()
    assert 3 <= len(fires) <= 4
    assert len(runs) == len(fires)
    assert all(f.status == "FIRED" and f.graph_exec_id for f in fires)
    by_id = {r.id: r for r in runs}
    for fire in fires:
        assert fire.fire_time.microsecond == 0
        lag = (by_id[fire.graph_exec_id].created_at - fire.fire_time).total_seconds()
        assert 0 <= lag < 0.5, lag


async def test_two_processes_fire_each_tick_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    first = sched_platform(autoplat_database_url, tmp_path / "a")
    second = sched_platform(autoplat_database_url, tmp_path / "b")
    for platform in (first, second):
        platform.scheduler.reload_interval = 0.2
    async with first, second:
        graph_id = (await add_schedule(first, "0 0 1 1 *")).graph_id
        records = [await add_schedule(first, "* * * * * *", graph_id=graph_id) for _ in range(20)]
        await asyncio.sleep(3.2)
        await first.scheduler.stop(5.0)
        await second.scheduler.stop(5.0)
        async with first.db.begin() as conn:
            fires, runs = await fire_rows_and_runs(conn)
    ids = {r.id for r in records}
    assert {f.schedule_id for f in fires} == ids
    per_schedule = {sid: sorted(f.fire_time for f in fires if f.schedule_id == sid) for sid in ids}
    assert all(len(times) >= 2 for times in per_schedule.values())
    # A process that first sees a schedule more than a tick after it was made (a reload
    # late under load) runs the latest owed tick and records the older ones MISSED, as
    # after downtime: such a record has no run, and a tick is still never run twice.
    fired = [f for f in fires if f.status == "FIRED"]
    assert {f.status for f in fires} <= {"FIRED", "MISSED"}
    assert all(f.graph_exec_id is None for f in fires if f.status == "MISSED")
    # One run per fired tick: as many runs of each schedule as it has FIRED records (a tick
    # fired twice is a run more than its schedule's fires), each run the one its fire names.
    assert Counter(r.schedule_id for r in runs) == Counter(f.schedule_id for f in fired)
    assert sorted(f.graph_exec_id for f in fired) == sorted(r.id for r in runs)
    # Both processes tried every tick: each fire was won by one and lost by the other.
    counters = [first.scheduler.counters, second.scheduler.counters]
    assert sum(c["fired"] for c in counters) == len(fired)
    assert sum(c["missed"] for c in counters) == len(fires) - len(fired)
    assert sum(c["lost"] for c in counters) >= len(fires) - 2 * len(ids)


async def fire_rows_and_runs(conn: AsyncConnection) -> tuple[list[Any], list[Any]]:
    """Every fire record and every run, read from one snapshot of the database.

    PostgreSQL's default isolation gives each statement its own snapshot: a batch that
    committed between the two reads would look like runs without fire records. SQLite's
    transaction (BEGIN IMMEDIATE) is one snapshot already.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    fires = (await conn.execute(select(ScheduleFire))).all()
    runs = (await conn.execute(select(GraphExecution))).all()
    return list(fires), list(runs)


async def test_a_batch_holding_one_fire_twice_starts_one_run(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with sched_platform(autoplat_database_url, tmp_path) as platform:
        record = await add_schedule(platform, "0 0 1 1 *")  # never due while the test runs
        tick = platform.scheduler.now().replace(microsecond=0)
        batcher = FireBatcher(platform.db, platform.executions)
        result = await batcher.fire(
            [(record, tick), (record, tick)], SystemClock(), asyncio.Semaphore(1)
        )
        async with platform.db.begin() as conn:
            fires, runs = await fire_rows_and_runs(conn)
    assert [(f.schedule_id, f.fire_time) for f in fires] == [(record.id, tick)]
    assert [r.id for r in runs] == [fires[0].graph_exec_id]
    assert result.fired == 1
