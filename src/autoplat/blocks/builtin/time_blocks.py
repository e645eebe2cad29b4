"""Clock blocks: current time/date and a countdown timer (blocks.md §3.10)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

TimezoneName = Literal[
    "UTC",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Caracas",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kabul",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Australia/Eucla",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Noumea",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Tongatapu",
    "Pacific/Kiritimati",
    "Etc/GMT-12",
    "Etc/GMT+12",
]


class _Zoned(BaseModel):
    timezone: TimezoneName = "UTC"
    use_user_timezone: bool = False


class TimeStrftimeFormat(_Zoned):
    """Time formatted with a strftime pattern."""

    discriminator: Literal["strftime"] = "strftime"
    format: str = "%H:%M:%S"


class TimeISO8601Format(_Zoned):
    """Time as ISO 8601 (``T14:03:07+00:00``)."""

    discriminator: Literal["iso8601"] = "iso8601"
    include_microseconds: bool = False


class DateStrftimeFormat(_Zoned):
    """Date formatted with a strftime pattern."""

    discriminator: Literal["strftime"] = "strftime"
    format: str = "%Y-%m-%d"


class DateISO8601Format(_Zoned):
    """Date as ISO 8601 (``YYYY-MM-DD``)."""

    discriminator: Literal["iso8601"] = "iso8601"


class StrftimeFormat(_Zoned):
    """Date and time formatted with a strftime pattern."""

    discriminator: Literal["strftime"] = "strftime"
    format: str = "%Y-%m-%d %H:%M:%S"


class ISO8601Format(_Zoned):
    """Date and time as ISO 8601 with offset."""

    discriminator: Literal["iso8601"] = "iso8601"
    include_microseconds: bool = False


TimeFormat = Annotated[TimeStrftimeFormat | TimeISO8601Format, Field(discriminator="discriminator")]
DateFormat = Annotated[DateStrftimeFormat | DateISO8601Format, Field(discriminator="discriminator")]
DateTimeFormat = Annotated[StrftimeFormat | ISO8601Format, Field(discriminator="discriminator")]


def _now(fmt: _Zoned, context: BlockContext) -> dt.datetime:
    """Now in the user's zone when asked for and known, else in the chosen zone."""
    name: str = fmt.timezone
    if fmt.use_user_timezone and context.user_timezone and context.user_timezone != "not-set":
        name = context.user_timezone
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return dt.datetime.now(zone)


def _strftime(moment: dt.datetime | dt.date, pattern: str) -> str:
    try:
        return moment.strftime(pattern)
    except ValueError as exc:
        raise BlockRunError(f"invalid format: {exc}") from exc


_TIME_RE = r"^\d{2}:\d{2}:\d{2}$"


class GetCurrentTimeBlock(Block["GetCurrentTimeBlock.Input"]):
    """Emit the current time of day."""

    class Input(BlockSchema):
        trigger: str = pin(description="Anything; fires the block.")
        format_type: TimeFormat = pin(default_factory=TimeStrftimeFormat, title="Format Type")

    class Output(BlockOutputSchema):
        time: str = pin(description="The current time.")

    id = "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"
    description = "Emits the current time."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"trigger": "go"},
        {"trigger": "go", "format_type": {"discriminator": "iso8601", "timezone": "Asia/Kolkata"}},
    ]
    test_output = [
        ("time", lambda t: re.match(_TIME_RE, t) is not None),
        ("time", lambda t: re.match(r"^T\d{2}:\d{2}:\d{2}\+05:30$", t) is not None),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        fmt = input_data.format_type
        now = _now(fmt, context)
        if isinstance(fmt, TimeISO8601Format):
            spec = "microseconds" if fmt.include_microseconds else "seconds"
            yield "time", "T" + now.isoformat(timespec=spec).split("T", 1)[1]
        else:
            yield "time", _strftime(now, fmt.format)


def _days(offset: int | str) -> int:
    try:
        return int(offset)
    except (TypeError, ValueError):
        return 0


class GetCurrentDateBlock(Block["GetCurrentDateBlock.Input"]):
    """Emit today's date, shifted ``offset`` days into the past."""

    class Input(BlockSchema):
        trigger: str = pin(description="Anything; fires the block.")
        offset: int | str = pin(0, title="Days Offset", description="Days before today.")
        format_type: DateFormat = pin(default_factory=DateStrftimeFormat, title="Format Type")

    class Output(BlockOutputSchema):
        date: str = pin(description="The date.")

    id = "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1"
    description = "Emits the current date, optionally offset by some days."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"trigger": "go", "offset": "7"},
        {"trigger": "go", "offset": "soon", "format_type": {"discriminator": "iso8601"}},
    ]
    test_output = [
        (
            "date",
            lambda d: d == (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=7)).isoformat(),
        ),
        ("date", lambda d: d == dt.datetime.now(dt.UTC).date().isoformat()),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        fmt = input_data.format_type
        day = _now(fmt, context).date() - dt.timedelta(days=_days(input_data.offset))
        if isinstance(fmt, DateISO8601Format):
            yield "date", day.isoformat()
        else:
            yield "date", _strftime(day, fmt.format)


class GetCurrentDateAndTimeBlock(Block["GetCurrentDateAndTimeBlock.Input"]):
    """Emit the current date and time."""

    class Input(BlockSchema):
        trigger: str = pin(description="Anything; fires the block.")
        format_type: DateTimeFormat = pin(default_factory=StrftimeFormat, title="Format Type")

    class Output(BlockOutputSchema):
        date_time: str = pin(description="The date and time.")

    id = "716a67b3-6760-42e7-86dc-18645c6e00fc"
    description = "Emits the current date and time."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"trigger": "go"},
        {"trigger": "go", "format_type": {"discriminator": "iso8601"}},
    ]
    test_output = [
        ("date_time", lambda s: re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", s) is not None),
        ("date_time", lambda s: dt.datetime.fromisoformat(s).utcoffset() == dt.timedelta(0)),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        fmt = input_data.format_type
        now = _now(fmt, context)
        if isinstance(fmt, ISO8601Format):
            spec = "microseconds" if fmt.include_microseconds else "seconds"
            yield "date_time", now.isoformat(timespec=spec)
        else:
            yield "date_time", _strftime(now, fmt.format)


def _whole(value: int | str, unit: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise BlockRunError(f"{unit} must be a whole number, got {value!r}") from exc


class CountdownTimerBlock(Block["CountdownTimerBlock.Input"]):
    """Wait, then emit the message; ``repeat`` times."""

    class Input(BlockSchema):
        input_message: Any = pin("timer finished", advanced=False)
        seconds: int | str = pin(0, advanced=False)
        minutes: int | str = pin(0, advanced=False)
        hours: int | str = pin(0, advanced=False)
        days: int | str = pin(0, advanced=False)
        repeat: int = pin(1, description="How many times to wait and emit.")

    class Output(BlockOutputSchema):
        output_message: Any = pin(description="The message, after each wait.")

    id = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
    description = "Waits for a duration, then emits a message."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    # Waiting is the job: allow long timers instead of the platform's per-node default.
    timeout = 30 * 86400.0
    test_input = [
        {},
        {"input_message": "tick", "seconds": "0", "repeat": 2},
        {"seconds": "soon"},
    ]
    test_output = [
        ("output_message", "timer finished"),
        ("output_message", "tick"),
        ("output_message", "tick"),
        ("error", lambda msg: "whole number" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        total = (
            _whole(input_data.seconds, "seconds")
            + 60 * _whole(input_data.minutes, "minutes")
            + 3600 * _whole(input_data.hours, "hours")
            + 86400 * _whole(input_data.days, "days")
        )
        if total > self.timeout:
            raise BlockRunError(f"a countdown may last at most {self.timeout / 86400:g} days")
        # Every repeat is an output downstream: the same cap as StepThroughItems' items.
        limit = context.settings.step_through_max_items
        if input_data.repeat > limit:
            raise BlockRunError(f"repeat may be at most {limit}")
        for _ in range(input_data.repeat):
            if total > 0:
                await asyncio.sleep(total)
            yield "output_message", input_data.input_message
