"""The timetable: every active schedule's next fire time, in a heap (no I/O here).

A schedule enters with its record; the timetable works out what is owed since the schedule's
anchor (its last fire, or when it was created or resumed): after downtime the latest owed fire
inside the grace runs once, older ones are reported as missed. ``pop_due`` hands out what is
due and pushes each schedule's next time.

Each timed schedule has exactly one heap item that continues its chain of cron times; a
catch-up fire or a retried fire is pushed as an extra item that does not continue it, so
popping one never pushes a second copy of a time the chain already holds (two copies of a
tick in one batch were two runs under one fire record).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from autoplat.db.schedules import ACTIVE, ScheduleRecord
from autoplat.logging import get_logger
from autoplat.scheduler.cron import CronFormatError, CronSpec, NextFireCache

log = get_logger("autoplat.scheduler")

#: Most missed fires reported per schedule after downtime (the rest are only logged).
MAX_MISSED_RECORDS = 100
#: A live process that falls behind still fires what is at most this late (or the grace).
LATE_TOLERANCE = 10.0

Fire = tuple[ScheduleRecord, datetime]


@dataclass(slots=True)
class _Entry:
    record: ScheduleRecord
    spec: CronSpec
    generation: int


class Timetable:
    """Next fire times of the active schedules."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace = grace_seconds
        self.next_times = NextFireCache()
        self._entries: dict[str, _Entry] = {}
        #: (due, seq, schedule id, generation, fire time, continues the schedule's chain)
        self._heap: list[tuple[datetime, int, str, int, datetime, bool]] = []
        self._seq = itertools.count()
        self._generations = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> set[str]:
        """The ids of the schedules being timed."""
        return set(self._entries)

    def next_wake(self) -> datetime | None:
        """When the earliest fire is due."""
        return self._heap[0][0] if self._heap else None

    def drop(self, schedule_id: str) -> None:
        """Stop timing a schedule (its heap items are skipped when they come up)."""
        self._entries.pop(schedule_id, None)

    def apply(self, record: ScheduleRecord, now: datetime) -> list[Fire]:
        """Time ``record`` (or stop timing it); return the fires it missed while untimed.

        A schedule already timed with the same cron and timezone only has its record
        replaced, so a reload that sees it again changes nothing.
        """
        if record.status != ACTIVE:
            self.drop(record.id)
            return []
        known = self._entries.get(record.id)
        if known is not None and (known.record.cron, known.record.timezone) == (
            record.cron,
            record.timezone,
        ):
            known.record = record
            return []
        try:
            spec = CronSpec.parse(record.cron, record.timezone)
        except CronFormatError as exc:  # stored before a validation change: skip, say why
            log.error("schedule.bad_cron", schedule_id=record.id, error=str(exc))
            return []
        entry = _Entry(record, spec, next(self._generations))
        self._entries[record.id] = entry
        # Owed: fire times after fires_from and after the last recorded fire.
        anchor = record.fires_from
        if record.last_fire_at is not None and record.last_fire_at > anchor:
            anchor = record.last_fire_at
        start = self.next_times.next_after(spec, anchor)
        if start is None:
            return []
        if start > now:
            self._push(entry, start)
            return []
        return self._catch_up(entry, start, now)

    def _catch_up(self, entry: _Entry, start: datetime, now: datetime) -> list[Fire]:
        """Fires owed since ``start``: the latest inside the grace runs, older ones are missed."""
        spec = entry.spec
        latest = spec.latest_at_or_before(now)
        missed_until = latest
        if latest is not None and (now - latest).total_seconds() <= self.grace:
            # An extra item: the chain goes on from the next time pushed below.
            self._push(entry, now, latest, chained=False)
            missed_until = latest - timedelta(microseconds=1)
        missed: list[Fire] = []
        moment: datetime | None = start
        while moment is not None and missed_until is not None and moment <= missed_until:
            if len(missed) == MAX_MISSED_RECORDS:
                log.warning(
                    "schedule.missed_not_recorded",
                    schedule_id=entry.record.id,
                    after=moment.isoformat(),
                )
                break
            missed.append((entry.record, moment))
            moment = spec.next_after(moment)
        self._push(entry, self.next_times.next_after(spec, now))
        return missed

    def retry(self, schedule_id: str, fire_time: datetime, due: datetime) -> None:
        """Offer a fire that could not be written again at ``due`` (still bound by lateness)."""
        entry = self._entries.get(schedule_id)
        if entry is not None:
            # An extra item: the chain already went on when this fire was first popped.
            self._push(entry, due, fire_time, chained=False)

    def pop_due(
        self, now: datetime, horizon: datetime | None = None
    ) -> tuple[list[Fire], list[Fire]]:
        """What is due by ``horizon`` (default now): (fires to run, fires too late to run).

        Each popped schedule's next time is pushed.
        """
        late_limit = max(self.grace, LATE_TOLERANCE)
        fire: list[Fire] = []
        missed: list[Fire] = []
        horizon = horizon or now
        while self._heap and self._heap[0][0] <= horizon:
            _, _, sid, generation, fire_time, chained = heapq.heappop(self._heap)
            entry = self._entries.get(sid)
            if entry is None or entry.generation != generation:
                continue  # changed or removed since this was pushed
            late = (now - fire_time).total_seconds() > late_limit
            (missed if late else fire).append((entry.record, fire_time))
            if chained:  # only the chain's own item pushes the next time
                after = now if late else fire_time
                self._push(entry, self.next_times.next_after(entry.spec, after))
        return fire, missed

    def _push(
        self,
        entry: _Entry,
        due: datetime | None,
        fire: datetime | None = None,
        *,
        chained: bool = True,
    ) -> None:
        if due is not None:
            item = (due, next(self._seq), entry.record.id, entry.generation, fire or due, chained)
            heapq.heappush(self._heap, item)
