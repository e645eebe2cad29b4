"""Scheduler behaviour under an injected clock: DST, restarts inside and past the grace."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from autoplat.db.models import GraphExecution, ScheduleFire
from autoplat.platform import Platform
from autoplat.scheduler.clock import ManualClock
from tests.integration.test_sched_firing import add_schedule, sched_platform


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc, arg-type]


def manual_platform(url: str, tmp_path: Path, clock: ManualClock, **overrides: Any) -> Platform:
    platform = sched_platform(url, tmp_path, **overrides)
    platform.scheduler.clock = clock
    return platform


async def fires_of(platform: Platform, schedule_id: str) -> list[tuple[datetime, str]]:
    async with platform.db.begin() as conn:
        rows = (
            await conn.execute(
                select(ScheduleFire.fire_time, ScheduleFire.status)
                .where(ScheduleFire.schedule_id == schedule_id)
                .order_by(ScheduleFire.fire_time)
            )
        ).all()
    return [(r.fire_time, r.status) for r in rows]


async def runs_of(platform: Platform, schedule_id: str) -> int:
    async with platform.db.begin() as conn:
        count = await conn.execute(
            select(func.count())
            .select_from(GraphExecution)
            .where(GraphExecution.schedule_id == schedule_id)
        )
        return int(count.scalar_one())


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def settle() -> None:
    """Give the loop time to act on a clock move (for checks that nothing happened)."""
    await asyncio.sleep(0.3)


async def test_dst_spring_forward_fires_at_local_nine(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 3, 28, 7, 59, 59))
    async with manual_platform(autoplat_database_url, tmp_path, clock) as platform:
        record = await add_schedule(platform, "0 9 * * *", "Europe/Berlin")
        clock.set(utc(2026, 3, 28, 8))

        async def fired(n: int) -> bool:
            return len(await fires_of(platform, record.id)) == n

        await eventually(lambda: fired(1))
        clock.set(utc(2026, 3, 29, 6, 59, 59))  # 08:59:59 CEST: not yet
        await settle()
        assert len(await fires_of(platform, record.id)) == 1
        clock.set(utc(2026, 3, 29, 7))  # 09:00 CEST
        await eventually(lambda: fired(2))
        clock.set(utc(2026, 3, 29, 8, 30))  # 09:00 CET would have been 08:00 UTC: nothing
        await settle()
        got = await fires_of(platform, record.id)
    assert got == [(utc(2026, 3, 28, 8), "FIRED"), (utc(2026, 3, 29, 7), "FIRED")]
    assert {t.astimezone(record_tz()).hour for t, _ in got} == {9}


def record_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


async def test_dst_fall_back_fires_repeated_hour_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 10, 24, 12))
    async with manual_platform(autoplat_database_url, tmp_path, clock) as platform:
        record = await add_schedule(platform, "30 2 * * *", "Europe/Berlin")
        for hour, minute in ((0, 30), (1, 30), (2, 30)):
            clock.set(utc(2026, 10, 25, hour, minute))
            await settle()
        got = await fires_of(platform, record.id)
    # 02:30 local happens at 00:30 UTC (CEST) and 01:30 UTC (CET): only the first fires.
    assert got == [(utc(2026, 10, 25, 0, 30), "FIRED")]


async def test_restart_inside_grace_runs_missed_fire_once(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 5, 1, 12, 0, 0))
    async with manual_platform(autoplat_database_url, tmp_path, clock) as platform:
        record = await add_schedule(platform, "0 * * * *")

    # Down over 13:00; back at 13:02 with a 5-minute grace: the 13:00 fire runs once.
    later = ManualClock(utc(2026, 5, 1, 13, 2))
    async with manual_platform(autoplat_database_url, tmp_path, later) as platform:

        async def caught_up() -> bool:
            return await runs_of(platform, record.id) == 1

        await eventually(caught_up)
    # A second restart a minute later finds nothing left to do.
    again = ManualClock(utc(2026, 5, 1, 13, 3))
    async with manual_platform(autoplat_database_url, tmp_path, again) as platform:
        await settle()
        assert await runs_of(platform, record.id) == 1
        assert await fires_of(platform, record.id) == [(utc(2026, 5, 1, 13), "FIRED")]
        stored = await platform.db.schedules.get(record.id)
        assert stored is not None and stored.last_fire_at == utc(2026, 5, 1, 13)


async def test_restart_past_grace_records_misses_and_runs_nothing(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 5, 1, 12, 0, 0))
    async with manual_platform(autoplat_database_url, tmp_path, clock) as platform:
        record = await add_schedule(platform, "0 * * * *")

    # Back at 16:10: 13:00, 14:00, 15:00 and 16:00 are all older than the grace.
    later = ManualClock(utc(2026, 5, 1, 16, 10))
    async with manual_platform(
        autoplat_database_url, tmp_path, later, schedule_grace_seconds=300
    ) as platform:

        async def recorded() -> bool:
            return len(await fires_of(platform, record.id)) == 4

        await eventually(recorded)
        assert await runs_of(platform, record.id) == 0
        got = await fires_of(platform, record.id)
        assert got == [(utc(2026, 5, 1, h), "MISSED") for h in (13, 14, 15, 16)]
        # The schedule goes on: 17:00 fires normally.
        later.set(utc(2026, 5, 1, 17))

        async def fired() -> bool:
            return await runs_of(platform, record.id) == 1

        await eventually(fired)


async def test_restart_with_many_missed_fires_runs_only_the_latest(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 5, 1, 12, 0, 0))
    async with manual_platform(autoplat_database_url, tmp_path, clock) as platform:
        record = await add_schedule(platform, "*/10 * * * * *")
    # Down for 2 minutes (grace 5 minutes): 12 fires owed; the latest runs, 11 are missed.
    later = ManualClock(utc(2026, 5, 1, 12, 2, 5))
    async with manual_platform(autoplat_database_url, tmp_path, later) as platform:

        async def recorded() -> bool:
            got = await fires_of(platform, record.id)
            return len(got) == 12 and got[-1][1] == "FIRED"

        await eventually(recorded)
        got = await fires_of(platform, record.id)
        assert await runs_of(platform, record.id) == 1
    assert got[-1] == (utc(2026, 5, 1, 12, 2), "FIRED")
    assert {s for _, s in got[:-1]} == {"MISSED"}


async def runs_by_fire(platform: Platform, schedule_id: str) -> tuple[list[str | None], list[str]]:
    """The run ids the schedule's fire records name, and the ids of its runs (both sorted)."""
    async with platform.db.begin() as conn:
        named = (
            await conn.execute(
                select(ScheduleFire.graph_exec_id).where(ScheduleFire.schedule_id == schedule_id)
            )
        ).scalars()
        runs = (
            await conn.execute(
                select(GraphExecution.id).where(GraphExecution.schedule_id == schedule_id)
            )
        ).scalars()
        return sorted(named, key=str), sorted(runs)


async def test_after_a_restart_inside_grace_the_next_ticks_run_once_each(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 5, 1, 12, 0, 0))
    async with manual_platform(autoplat_database_url, tmp_path, clock) as platform:
        record = await add_schedule(platform, "0 * * * *")

    # Down over 13:00, back at 13:02: 13:00 is caught up; 14:00 and 15:00 are ordinary ticks,
    # and each must start one run (a caught-up schedule used to hold each later tick twice,
    # and both copies fired in one batch: two runs under one fire record).
    later = ManualClock(utc(2026, 5, 1, 13, 2))
    async with manual_platform(autoplat_database_url, tmp_path, later) as platform:
        for hour, fires in ((13, 1), (14, 2), (15, 3)):
            later.set(max(later.now(), utc(2026, 5, 1, hour)))

            async def recorded(n: int = fires) -> bool:
                return len(await fires_of(platform, record.id)) == n

            await eventually(recorded)
            await settle()
            named, runs = await runs_by_fire(platform, record.id)
            assert named == runs and len(runs) == fires, (hour, named, runs)
            # Alone, the process loses no fire to anyone: a copy of a tick written in a batch
            # of its own (PostgreSQL writes two at once) would be a fire lost to itself.
            assert platform.scheduler.counters["lost"] == 0, hour
