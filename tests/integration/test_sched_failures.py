"""Fires that cannot run: invalid graphs pause the schedule, gone graphs too, no credits fail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select

from autoplat.db.models import GraphExecution, Schedule, User
from autoplat.db.schedules import ScheduleRecord
from autoplat.platform import Platform
from autoplat.scheduler.clock import ManualClock
from autoplat.scheduler.cron import CronSpec
from tests.integration.test_sched_clock import eventually, fires_of, runs_of
from tests.integration.test_sched_firing import USER, add_schedule, sched_platform

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
TICK = datetime(2026, 6, 1, 12, 1, 0, tzinfo=UTC)


def manual(url: str, tmp_path: Path, **overrides: object) -> tuple[Platform, ManualClock]:
    clock = ManualClock(START)
    platform = sched_platform(url, tmp_path, **overrides)
    platform.scheduler.clock = clock
    return platform, clock


async def raw_schedule(
    platform: Platform, graph_id: str, inputs: dict[str, object]
) -> ScheduleRecord:
    """A schedule stored as is (the API would have refused it)."""
    await platform.db.users.ensure(USER)
    spec = CronSpec.parse("* * * * *", "UTC")
    record = await platform.db.schedules.create(
        user_id=USER,
        graph_id=graph_id,
        graph_version=1,
        name="broken",
        cron=spec.expr,
        timezone="UTC",
        inputs=dict(inputs),
        fires_from=platform.scheduler.now(),
    )
    platform.scheduler.schedule_changed(record)
    return record


async def fired_once(platform: Platform, schedule_id: str) -> list[tuple[datetime, str]]:
    async def recorded() -> bool:
        return len(await fires_of(platform, schedule_id)) == 1

    await eventually(recorded)
    return await fires_of(platform, schedule_id)


async def test_a_schedule_whose_graph_no_longer_validates_is_paused_with_the_reason(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    platform, clock = manual(autoplat_database_url, tmp_path)
    async with platform:
        good = await add_schedule(platform, "* * * * *")
        broken = await raw_schedule(platform, good.graph_id, {})  # the required x is missing
        clock.set(TICK)
        assert await fired_once(platform, broken.id) == [(TICK, "FAILED")]
        stored = await platform.db.schedules.get(broken.id)
        assert stored is not None and stored.status == "PAUSED"
        assert stored.paused_reason and "no longer validates" in stored.paused_reason
        fires = await platform.db.schedules.list_fires(broken.id)
        assert fires[0].error and "x" in fires[0].error and fires[0].graph_exec_id is None
        # The valid schedule of the same tick ran; the paused one is no longer timed.
        assert await fired_once(platform, good.id) == [(TICK, "FIRED")]
        assert await runs_of(platform, broken.id) == 0
        assert platform.scheduler.scheduled_count == 1


async def test_a_schedule_whose_graph_is_gone_is_paused(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    platform, clock = manual(autoplat_database_url, tmp_path)
    async with platform:
        orphan = await raw_schedule(platform, "00000000-0000-0000-0000-00000000dead", {"x": 1})
        clock.set(TICK)
        assert await fired_once(platform, orphan.id) == [(TICK, "FAILED")]
        stored = await platform.db.schedules.get(orphan.id)
        assert stored is not None and stored.status == "PAUSED"
        assert stored.paused_reason and stored.paused_reason.startswith("graph is gone")


async def test_no_credits_fails_the_fire_but_keeps_the_schedule(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    platform, clock = manual(autoplat_database_url, tmp_path, credits_enabled=True)
    async with platform:
        record = await add_schedule(platform, "* * * * *")  # the user has no credits
        clock.set(TICK)
        assert await fired_once(platform, record.id) == [(TICK, "FAILED")]
        fires = await platform.db.schedules.list_fires(record.id)
        assert fires[0].error and fires[0].error.startswith("insufficient_credits")
        stored = await platform.db.schedules.get(record.id)
        assert stored is not None and stored.status == "ACTIVE"


async def test_paused_schedules_do_not_fire_and_resume_skips_what_was_owed(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    platform, clock = manual(autoplat_database_url, tmp_path)
    async with platform:
        record = await add_schedule(platform, "* * * * *")
        paused = await platform.db.schedules.set_status(record.id, status="PAUSED")
        platform.scheduler.schedule_changed(paused)
        clock.set(TICK)
        await asyncio.sleep(0.3)
        assert await fires_of(platform, record.id) == []
        clock.set(datetime(2026, 6, 1, 12, 1, 30, tzinfo=UTC))
        resumed = await platform.db.schedules.set_status(
            record.id, status="ACTIVE", fires_from=platform.scheduler.now()
        )
        platform.scheduler.schedule_changed(resumed)
        await asyncio.sleep(0.3)
        assert await fires_of(platform, record.id) == []  # 12:01 was owed while paused
        clock.set(datetime(2026, 6, 1, 12, 2, tzinfo=UTC))
        assert await fired_once(platform, record.id) == [
            (datetime(2026, 6, 1, 12, 2, tzinfo=UTC), "FIRED")
        ]


async def test_deleting_the_owner_removes_their_schedules(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    async with sched_platform(autoplat_database_url, tmp_path) as platform:
        record = await add_schedule(platform, "* * * * *")
        async with platform.db.begin() as conn:
            await conn.execute(delete(User).where(User.id == USER))
            left = await conn.execute(
                select(func.count()).select_from(Schedule).where(Schedule.id == record.id)
            )
            assert left.scalar_one() == 0
            runs = await conn.execute(select(func.count()).select_from(GraphExecution))
            assert runs.scalar_one() == 0


async def test_a_schedule_deleted_elsewhere_is_forgotten_at_its_next_tick(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    platform, clock = manual(autoplat_database_url, tmp_path)
    async with platform:
        record = await add_schedule(platform, "* * * * *")
        # Deleted by another process: this one is not told and still times it.
        assert await platform.db.schedules.delete(record.id, user_id=USER)
        assert platform.scheduler.scheduled_count == 1
        clock.set(TICK)

        async def forgotten() -> bool:
            return platform.scheduler.scheduled_count == 0

        await eventually(forgotten)
        assert platform.scheduler.counters["fired"] == 0
        assert platform.scheduler.counters["lost"] == 0


async def test_a_tick_that_meets_an_unavailable_database_is_fired_when_it_returns(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    import asyncpg
    import pytest
    from sqlalchemy.engine import make_url

    url = make_url(autoplat_database_url)
    if not url.drivername.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: the test refuses connections to the database")
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    name = url.database

    async def allow(flag: bool) -> None:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(flag).lower()}')
            if not flag:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
        finally:
            await admin.close()

    platform, clock = manual(autoplat_database_url, tmp_path)
    async with platform:
        record = await add_schedule(platform, "* * * * *")
        await allow(False)
        try:
            clock.set(TICK)

            async def retried() -> bool:
                return platform.scheduler.timetable.next_wake() == TICK + timedelta(seconds=2)

            await eventually(retried, timeout=15)
        finally:
            await allow(True)
        clock.set(TICK + timedelta(seconds=2))
        assert await fired_once(platform, record.id) == [(TICK, "FIRED")]
        assert await runs_of(platform, record.id) == 1
