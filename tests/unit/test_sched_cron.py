"""Cron expressions: validation messages and DST-correct fire times."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from autoplat.scheduler.cron import CronFormatError, CronSpec, load_timezone, normalize_cron

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc, arg-type]


def fires(spec: CronSpec, start: datetime, count: int) -> list[datetime]:
    out = []
    moment = start
    for _ in range(count):
        nxt = spec.next_after(moment)
        assert nxt is not None
        out.append(nxt)
        moment = nxt
    return out


@pytest.mark.parametrize(
    ("expr", "normal"),
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("  0  9 * * MON-FRI ", "0 9 * * MON-FRI"),
        ("0 30 9 * * *", "30 9 * * *"),
        ("*/10 * * * * *", "*/10 * * * * *"),
        ("@daily", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
    ],
)
def test_normalize(expr: str, normal: str) -> None:
    assert normalize_cron(expr) == normal


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("61 * * * *", "bad minute"),
        ("* * *", "has 3 fields"),
        ("* * * * * * *", "has 7 fields"),
        ("0 0 30 2 *", "bad day-of-month"),
        ("*/0 * * * *", "bad minute"),
        ("", "has 0 fields"),
        ("@sometimes", "has 1 fields"),
    ],
)
def test_bad_cron_says_what_is_wrong(expr: str, says: str) -> None:
    with pytest.raises(CronFormatError) as info:
        normalize_cron(expr)
    assert says in str(info.value)
    assert "expected" in str(info.value)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", " UTC", "../etc/passwd", "/etc/localtime"])
def test_bad_timezone(name: str) -> None:
    with pytest.raises(CronFormatError, match="unknown timezone"):
        load_timezone(name)


def test_seconds_field_comes_first() -> None:
    spec = CronSpec.parse("*/15 * * * * *", "UTC")
    assert fires(spec, utc(2026, 1, 1, 0, 0, 0), 3) == [
        utc(2026, 1, 1, 0, 0, 15),
        utc(2026, 1, 1, 0, 0, 30),
        utc(2026, 1, 1, 0, 0, 45),
    ]


def test_next_after_is_strict_and_ignores_microseconds() -> None:
    spec = CronSpec.parse("* * * * * *", "UTC")
    assert spec.next_after(utc(2026, 1, 1, 0, 0, 5)) == utc(2026, 1, 1, 0, 0, 6)
    assert spec.next_after(datetime(2026, 1, 1, 0, 0, 5, 900, tzinfo=UTC)) == utc(
        2026, 1, 1, 0, 0, 6
    )
    assert spec.latest_at_or_before(datetime(2026, 1, 1, 0, 0, 5, 900, tzinfo=UTC)) == utc(
        2026, 1, 1, 0, 0, 5
    )


def test_daily_job_keeps_local_hour_across_spring_forward() -> None:
    spec = CronSpec.parse("0 9 * * *", "Europe/Berlin")
    got = fires(spec, utc(2026, 3, 27, 12), 3)
    # 09:00 CET is 08:00 UTC; from 29 March 09:00 CEST is 07:00 UTC.
    assert got == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)]
    assert {g.astimezone(BERLIN).hour for g in got} == {9}


def test_daily_job_keeps_local_hour_across_fall_back() -> None:
    spec = CronSpec.parse("0 9 * * *", "Europe/Berlin")
    assert fires(spec, utc(2026, 10, 24, 12), 2) == [utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)]


def test_skipped_local_time_fires_once_right_after_the_jump() -> None:
    spec = CronSpec.parse("30 2 * * *", "Europe/Berlin")
    got = fires(spec, utc(2026, 3, 28, 12), 2)
    # 02:30 does not exist on 29 March: it fires at 03:00 CEST (01:00 UTC), once.
    assert got == [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]


def test_repeated_local_time_fires_once() -> None:
    spec = CronSpec.parse("30 2 * * *", "Europe/Berlin")
    got = fires(spec, utc(2026, 10, 24, 12), 2)
    # 02:30 happens twice on 25 October; it fires the first time (CEST) only.
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_hourly_job_follows_elapsed_time_through_both_changes() -> None:
    spec = CronSpec.parse("0 * * * *", "Europe/Berlin")
    spring = fires(spec, utc(2026, 3, 28, 23, 30), 4)
    assert spring == [utc(2026, 3, 29, h) for h in range(0, 4)]
    fall = fires(spec, utc(2026, 10, 24, 23, 30), 4)
    assert fall == [utc(2026, 10, 25, h) for h in range(0, 4)]  # 02:00 local twice


def test_latest_at_or_before_in_local_time() -> None:
    spec = CronSpec.parse("0 9 * * *", "Europe/Berlin")
    assert spec.latest_at_or_before(utc(2026, 3, 29, 7)) == utc(2026, 3, 29, 7)
    assert spec.latest_at_or_before(utc(2026, 3, 29, 6, 59)) == utc(2026, 3, 28, 8)
