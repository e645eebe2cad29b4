"""System jobs: the stuck-run monitor and retention, recorded for GET /api/admin/jobs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from autoplat.db.models import GraphExecution, NodeExecution, ScheduleFire
from autoplat.db.schedules import FireOutcome
from autoplat.db.types import utcnow
from autoplat.platform import Platform
from autoplat.scheduler.jobs import RETENTION, STUCK_MONITOR
from tests.integration.test_sched_firing import USER, add_schedule, sched_platform


async def add_run(platform: Platform, status: str, age: timedelta, **extra: Any) -> str:
    """A run row as the executor would have left it, ``age`` old."""
    run_id = str(uuid.uuid4())
    then = utcnow() - age
    values: dict[str, Any] = {
        "id": run_id,
        "user_id": USER,
        "graph_id": str(uuid.uuid4()),
        "graph_version": 1,
        "status": status,
        "inputs": {},
        "outputs": {},
        "stats": {},
        "stop_requested": False,
        "created_at": then,
        "updated_at": then,
    }
    values.update(extra)
    await platform.db.users.ensure(USER)
    async with platform.db.begin() as conn:
        await conn.execute(insert(GraphExecution).values(**values))
        await conn.execute(
            insert(NodeExecution).values(
                id=str(uuid.uuid4()),
                graph_exec_id=run_id,
                node_id="n",
                block_id="b",
                status="COMPLETED",
                seq=0,
                input_data={},
                output_data={},
                stats={},
                created_at=then,
            )
        )
    return run_id


async def run_row(platform: Platform, run_id: str) -> Any:
    async with platform.db.begin() as conn:
        return (
            await conn.execute(select(GraphExecution).where(GraphExecution.id == run_id))
        ).first()


async def test_monitor_finds_stuck_runs_and_releases_lapsed_leases(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with sched_platform(
        autoplat_database_url, tmp_path, stuck_after_seconds=600, graph_workers=1
    ) as platform:
        await platform.executions.stop(5.0)  # nobody claims the rows this test plants
        hours = timedelta(hours=2)
        queued = await add_run(platform, "QUEUED", hours)
        await add_run(platform, "QUEUED", timedelta(seconds=5))
        lapsed = await add_run(
            platform,
            "RUNNING",
            hours,
            started_at=utcnow() - hours,
            lease_owner="dead-worker",
            lease_expires_at=utcnow() - timedelta(minutes=5),
        )
        healthy = await add_run(
            platform,
            "RUNNING",
            timedelta(seconds=30),
            started_at=utcnow(),
            lease_owner="live-worker",
            lease_expires_at=utcnow() + timedelta(minutes=5),
        )
        details = await platform.scheduler.jobs.run_now(STUCK_MONITOR)
        assert details["stuck_queued"] == 1
        assert details["stuck_running"] == 1
        assert details["released"] == 1
        released = await run_row(platform, lapsed)
        assert released.lease_owner is None and released.status == "RUNNING"
        assert (await run_row(platform, healthy)).lease_owner == "live-worker"
        assert (await run_row(platform, queued)).status == "QUEUED"
        jobs = {j.name: j for j in await platform.scheduler.jobs.store.list_jobs()}
        assert jobs[STUCK_MONITOR].last_outcome == "ok"
        assert jobs[STUCK_MONITOR].details["released"] == 1
        assert isinstance(jobs[STUCK_MONITOR].last_run_at, datetime)


async def test_retention_deletes_old_finished_runs_and_fires(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with sched_platform(autoplat_database_url, tmp_path, retention_days=7) as platform:
        old = await add_run(platform, "COMPLETED", timedelta(days=10), ended_at=utcnow())
        await _end(platform, old, utcnow() - timedelta(days=9))
        recent = await add_run(platform, "FAILED", timedelta(days=1), ended_at=utcnow())
        still_running = await add_run(platform, "RUNNING", timedelta(days=10))
        schedule = await add_schedule(platform, "0 0 1 1 *")
        long_ago = utcnow() - timedelta(days=30)
        async with platform.db.begin() as conn:
            await platform.db.schedules.claim_fires(
                conn,
                [
                    FireOutcome(schedule.id, long_ago, "MISSED"),
                    FireOutcome(schedule.id, long_ago + timedelta(days=1), "MISSED"),
                ],
            )
        details = await platform.scheduler.jobs.run_now(RETENTION)
        assert details == {"retention_days": 7, "deleted_runs": 1, "deleted_fires": 1}
        assert await run_row(platform, old) is None
        assert await run_row(platform, recent) is not None
        assert await run_row(platform, still_running) is not None
        async with platform.db.begin() as conn:
            nodes = (
                await conn.execute(
                    select(NodeExecution.id).where(NodeExecution.graph_exec_id == old)
                )
            ).all()
            fires = (await conn.execute(select(ScheduleFire.fire_time))).scalars().all()
        assert nodes == []
        # The latest fire stays: it is the schedule's anchor after downtime.
        assert fires == [long_ago + timedelta(days=1)]


async def _end(platform: Platform, run_id: str, ended: datetime) -> None:
    from sqlalchemy import update

    async with platform.db.begin() as conn:
        await conn.execute(
            update(GraphExecution).where(GraphExecution.id == run_id).values(ended_at=ended)
        )


async def test_retention_zero_keeps_everything(autoplat_database_url: str, tmp_path: Path) -> None:
    async with sched_platform(autoplat_database_url, tmp_path, retention_days=0) as platform:
        old = await add_run(platform, "COMPLETED", timedelta(days=400), ended_at=utcnow())
        details = await platform.scheduler.jobs.run_now(RETENTION)
        assert details["deleted_runs"] == 0
        assert await run_row(platform, old) is not None


async def test_a_job_tick_runs_in_one_process_only(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    first = sched_platform(autoplat_database_url, tmp_path / "a")
    second = sched_platform(autoplat_database_url, tmp_path / "b")
    async with first, second:
        now = utcnow()
        store_a, store_b = first.scheduler.jobs.store, second.scheduler.jobs.store
        assert await store_a.try_start(STUCK_MONITOR, now, 30.0)
        assert not await store_b.try_start(STUCK_MONITOR, now + timedelta(seconds=1), 30.0)
        assert await store_b.try_start(STUCK_MONITOR, now + timedelta(seconds=31), 30.0)
