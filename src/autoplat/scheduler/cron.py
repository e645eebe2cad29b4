"""Cron expressions in a timezone: validation and DST-correct fire times.

The dialect is aiocron's (cronsim): five fields ``minute hour day month weekday``, or six
with *seconds first*, plus the ``@hourly``-style aliases. Fire times are computed in the
schedule's local time and returned in UTC. Across daylight-saving changes, fixed-time
five-field schedules behave like Debian cron: a local time skipped by a spring-forward fires
once right after the jump, a local time repeated by a fall-back fires once (the first time);
hourly and finer schedules keep firing by elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_FORMAT = (
    "5 fields 'minute hour day month weekday', or 6 with seconds first "
    "'second minute hour day month weekday', or an alias such as @daily"
)


class CronFormatError(ValueError):
    """A cron expression or timezone name that cannot be used; the message says why."""


def normalize_cron(expr: str) -> str:
    """The expression in canonical form (aliases expanded, a ``0`` seconds field dropped)."""
    text = " ".join(expr.split())
    text = ALIASES.get(text.lower(), text)
    parts = text.split()
    # "0 m h d M w" means the same as "m h d M w"; the five-field form gets cron's DST rules.
    if len(parts) == 6 and parts[0] == "0":
        parts = parts[1:]
    if len(parts) not in (5, 6):
        raise CronFormatError(
            f"invalid cron expression {expr!r}: has {len(parts)} fields, expected {CRON_FORMAT}"
        )
    normalized = " ".join(parts)
    try:
        next(CronSim(normalized, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise CronFormatError(
            f"invalid cron expression {expr!r}: {str(exc).lower()}; expected {CRON_FORMAT}"
        ) from None
    except StopIteration:
        raise CronFormatError(f"cron expression {expr!r} never fires") from None
    return normalized


def load_timezone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``, or CronFormatError naming the problem."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronFormatError(
            f"unknown timezone {name!r}: expected an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None


@dataclass(frozen=True)
class CronSpec:
    """A validated cron expression bound to a timezone."""

    expr: str
    tz: ZoneInfo

    @classmethod
    def parse(cls, expr: str, timezone: str) -> CronSpec:
        """Validate both parts; raises CronFormatError."""
        return cls(normalize_cron(expr), load_timezone(timezone))

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment``, in UTC (None if it never fires)."""
        try:
            return next(CronSim(self.expr, moment.astimezone(self.tz))).astimezone(UTC)
        except StopIteration:
            return None

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The last fire time at or before ``moment``, in UTC (None if there is none)."""
        start = moment.astimezone(self.tz).replace(microsecond=0) + timedelta(seconds=1)
        try:
            return next(CronSim(self.expr, start, reverse=True)).astimezone(UTC)
        except StopIteration:
            return None

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the schedule's timezone."""
        return moment.astimezone(self.tz)


class NextFireCache:
    """Remembers next fire times: schedules sharing a cron and timezone share the work.

    Computing a rare cron's next time walks the calendar (a yearly cron: hundreds of days), so
    ten thousand schedules of the same cron firing together must not each walk it.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._known: dict[tuple[str, str, datetime], datetime | None] = {}

    def next_after(self, spec: CronSpec, moment: datetime) -> datetime | None:
        """``spec.next_after(moment)``, computed once per (cron, timezone, moment)."""
        key = (spec.expr, spec.tz.key, moment)
        try:
            return self._known[key]
        except KeyError:
            pass
        if len(self._known) >= self.limit:
            self._known.clear()
        value = self._known[key] = spec.next_after(moment)
        return value
