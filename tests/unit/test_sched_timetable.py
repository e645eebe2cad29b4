"""The timetable (pure): what is owed after downtime, what is due, what is too late."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from autoplat.db.schedules import ScheduleRecord
from autoplat.scheduler.clock import ManualClock
from autoplat.scheduler.timetable import MAX_MISSED_RECORDS, Timetable

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def record(cron: str = "0 * * * *", **changes: object) -> ScheduleRecord:
    base = ScheduleRecord(
        id="s1",
        user_id="u",
        graph_id="g",
        graph_version=1,
        name="n",
        cron=cron,
        timezone="UTC",
        inputs={},
        status="ACTIVE",
        paused_reason=None,
        fires_from=T0,
        last_fire_at=None,
        created_at=T0,
        updated_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_new_schedule_is_due_at_its_next_cron_time() -> None:
    table = Timetable(grace_seconds=300)
    assert table.apply(record(), T0) == []
    assert table.next_wake() == T0 + timedelta(hours=1)
    assert table.pop_due(T0 + timedelta(minutes=59)) == ([], [])
    fire, missed = table.pop_due(T0 + timedelta(hours=1))
    assert [(r.id, t) for r, t in fire] == [("s1", T0 + timedelta(hours=1))] and missed == []
    assert table.next_wake() == T0 + timedelta(hours=2)


def test_fires_from_is_exclusive() -> None:
    table = Timetable(grace_seconds=300)
    table.apply(record("* * * * *"), T0)
    assert table.next_wake() == T0 + timedelta(minutes=1)


def test_after_downtime_the_latest_owed_fire_inside_the_grace_runs() -> None:
    table = Timetable(grace_seconds=300)
    now = T0 + timedelta(hours=3, minutes=2)
    missed = table.apply(record(), now)
    # 13:00 and 14:00 are past the grace; 15:00 (2 minutes ago) runs now.
    assert [t for _, t in missed] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    fire, late = table.pop_due(now)
    assert [t for _, t in fire] == [T0 + timedelta(hours=3)] and late == []
    assert table.next_wake() == T0 + timedelta(hours=4)


def test_the_last_recorded_fire_is_the_anchor() -> None:
    table = Timetable(grace_seconds=300)
    last = T0 + timedelta(hours=2)
    now = T0 + timedelta(hours=2, minutes=30)
    assert table.apply(record(last_fire_at=last), now) == []
    assert table.next_wake() == T0 + timedelta(hours=3)


def test_missed_records_are_capped() -> None:
    table = Timetable(grace_seconds=0)
    missed = table.apply(record("* * * * * *"), T0 + timedelta(hours=1))
    assert len(missed) == MAX_MISSED_RECORDS


def test_a_reload_with_the_same_timing_changes_nothing_but_a_new_cron_does() -> None:
    table = Timetable(grace_seconds=300)
    table.apply(record(), T0)
    table.apply(record(name="renamed"), T0 + timedelta(minutes=30))
    assert table.pop_due(T0 + timedelta(hours=1))[0][0][0].name == "renamed"
    table.apply(record(cron="30 * * * *"), T0 + timedelta(hours=1))
    fire, _ = table.pop_due(T0 + timedelta(hours=1, minutes=30))
    assert [t for _, t in fire] == [T0 + timedelta(hours=1, minutes=30)]


def test_paused_and_dropped_schedules_are_not_due() -> None:
    table = Timetable(grace_seconds=300)
    table.apply(record(), T0)
    table.apply(record(status="PAUSED"), T0)
    assert len(table) == 0 and table.pop_due(T0 + timedelta(days=1)) == ([], [])
    table.apply(record(id="s2"), T0)
    table.drop("s2")
    assert table.pop_due(T0 + timedelta(days=1)) == ([], [])


def test_a_fire_far_behind_a_live_loop_is_missed_not_run() -> None:
    table = Timetable(grace_seconds=0)
    table.apply(record("* * * * *"), T0)
    fire, missed = table.pop_due(T0 + timedelta(minutes=1, seconds=5))
    assert len(fire) == 1 and missed == []  # 5 s late: within the live tolerance
    table.apply(record("* * * * *", id="s2"), T0)
    fire, missed = table.pop_due(T0 + timedelta(minutes=5))
    assert sorted(r.id for r, _ in missed) == ["s1", "s2"] and fire == []


def test_horizon_takes_fires_due_soon() -> None:
    table = Timetable(grace_seconds=300)
    table.apply(record(), T0)
    due = T0 + timedelta(hours=1)
    fire, _ = table.pop_due(due - timedelta(seconds=0.4), due)
    assert [t for _, t in fire] == [due]


def test_a_bad_stored_cron_is_skipped() -> None:
    table = Timetable(grace_seconds=300)
    assert table.apply(record("not a cron"), T0) == [] and len(table) == 0


async def test_manual_clock_wakes_sleepers_when_moved() -> None:
    clock = ManualClock(T0)
    sleeper = asyncio.ensure_future(clock.sleep(10))
    await asyncio.sleep(0)
    clock.advance(9)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(1)
    await asyncio.wait_for(sleeper, 1)
    with pytest.raises(ValueError):
        clock.set(T0)


def test_a_fire_offered_again_keeps_its_fire_time_until_too_late() -> None:
    table = Timetable(grace_seconds=0)
    table.apply(record(), T0)
    due = T0 + timedelta(hours=1)
    fire, _ = table.pop_due(due)
    table.retry("s1", due, due + timedelta(seconds=2))
    fire, missed = table.pop_due(due + timedelta(seconds=2))
    assert [t for _, t in fire] == [due] and missed == []
    table.retry("s1", due, due + timedelta(seconds=30))
    fire, missed = table.pop_due(due + timedelta(seconds=30))
    assert fire == [] and [t for _, t in missed] == [due]


def due_times(table: Timetable, now: datetime) -> list[datetime]:
    """The fire times ``pop_due(now)`` hands out, duplicates kept."""
    fire, missed = table.pop_due(now)
    assert missed == []
    return [t for _, t in fire]


def test_a_schedule_caught_up_after_its_first_tick_fires_every_later_tick_once() -> None:
    # A process that first sees a schedule just after its first tick (another process made
    # it, or a reload came late) catches that tick up; the ticks after it come once each.
    table = Timetable(grace_seconds=300)
    now = T0 + timedelta(seconds=1.4)
    assert table.apply(record("* * * * * *"), now) == []
    assert due_times(table, now) == [T0 + timedelta(seconds=1)]
    for second in (2, 3, 4):
        tick = T0 + timedelta(seconds=second)
        assert due_times(table, tick) == [tick]


def test_a_fire_offered_again_does_not_repeat_the_ticks_after_it() -> None:
    table = Timetable(grace_seconds=0)
    table.apply(record("* * * * * *"), T0)
    first = T0 + timedelta(seconds=1)
    assert due_times(table, first) == [first]
    table.retry("s1", first, first + timedelta(seconds=0.5))
    assert due_times(table, first + timedelta(seconds=0.5)) == [first]
    for second in (2, 3):
        tick = T0 + timedelta(seconds=second)
        assert due_times(table, tick) == [tick]


def test_a_caught_up_fire_popped_too_late_is_missed_once_and_the_ticks_go_on() -> None:
    table = Timetable(grace_seconds=1)
    now = T0 + timedelta(minutes=1, seconds=0.2)
    assert table.apply(record("* * * * *"), now) == []  # 12:01 is caught up (in the grace)
    fire, missed = table.pop_due(now + timedelta(seconds=30))
    assert fire == [] and [t for _, t in missed] == [T0 + timedelta(minutes=1)]
    assert due_times(table, T0 + timedelta(minutes=2)) == [T0 + timedelta(minutes=2)]
