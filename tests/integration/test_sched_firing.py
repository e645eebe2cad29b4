"""Schedules fire on time, once, through the scheduler loop (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.models import GraphExecution, ScheduleFire
from autoplat.db.schedules import ScheduleRecord
from autoplat.db.types import utcnow
from autoplat.platform import Platform
from autoplat.scheduler.cron import CronSpec
from autoplat.testing import make_settings

USER = "user-sched"


async def run_row_sink(conn: AsyncConnection, schedule: ScheduleRecord, fire_time: datetime) -> str:
    """Stand-in for executions.submit: writes the run row in the fire's transaction."""
    run_id = str(uuid.uuid4())
    now = utcnow()
    await conn.execute(
        insert(GraphExecution).values(
            id=run_id,
            user_id=schedule.user_id,
            graph_id=schedule.graph_id,
            graph_version=schedule.graph_version,
            status="QUEUED",
            inputs=schedule.inputs,
            outputs={},
            stats={},
            schedule_id=schedule.id,
            stop_requested=False,
            created_at=now,
            updated_at=now,
        )
    )
    return run_id


async def add_schedule(platform: Platform, cron: str, tz: str = "UTC") -> ScheduleRecord:
    await platform.db.users.ensure(USER)
    spec = CronSpec.parse(cron, tz)
    record = await platform.db.schedules.create(
        user_id=USER,
        graph_id=str(uuid.uuid4()),
        graph_version=1,
        name="every second",
        cron=spec.expr,
        timezone=tz,
        inputs={},
        next_fire_at=spec.next_after(platform.scheduler.now()),
    )
    platform.scheduler.schedule_changed(record)
    return record


async def test_seconds_cron_fires_on_time(autoplat_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(autoplat_database_url, tmp_path)
    platform = Platform(settings, serve_http=False)
    platform.scheduler.sink = run_row_sink
    async with platform:
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
    first = Platform(make_settings(autoplat_database_url, tmp_path / "a"), serve_http=False)
    second = Platform(make_settings(autoplat_database_url, tmp_path / "b"), serve_http=False)
    for platform in (first, second):
        platform.scheduler.sink = run_row_sink
        platform.scheduler.reload_interval = 0.2
    async with first, second:
        records = [await add_schedule(first, "* * * * * *") for _ in range(20)]
        await asyncio.sleep(3.2)
        await first.scheduler.stop(5.0)
        await second.scheduler.stop(5.0)
        async with first.db.begin() as conn:
            fires = (await conn.execute(select(ScheduleFire))).all()
            runs = (await conn.execute(select(GraphExecution))).all()
    ids = {r.id for r in records}
    assert {f.schedule_id for f in fires} == ids
    per_schedule = {sid: sorted(f.fire_time for f in fires if f.schedule_id == sid) for sid in ids}
    assert all(len(times) >= 2 for times in per_schedule.values())
    # One run per fire, and no (schedule, second) twice.
    assert len(runs) == len(fires)
    assert len({(r.schedule_id, r.id) for r in runs}) == len(runs)
    assert {f.graph_exec_id for f in fires} == {r.id for r in runs}
    # Both processes tried every tick: each fire was won by one and lost by the other.
    counters = [first.scheduler.counters, second.scheduler.counters]
    assert sum(c["fired"] for c in counters) == len(fires)
    assert sum(c["lost"] for c in counters) >= len(fires) - 2 * len(ids)
