"""Scheduler: cron schedules of graph runs and system jobs.

One loop keeps a heap of the next fire time of every active schedule, sleeps until the
earliest (or until a schedule changes), and fires everything due in batches. Every process
runs the same loop over the same schedules; the (schedule, fire time) key in the database
lets exactly one of them create each run. System jobs run on aiocron (see ``jobs.py``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.schedules import ACTIVE, ScheduleRecord
from autoplat.db.types import utcnow
from autoplat.executions.manager import ExecutionManager
from autoplat.logging import get_logger
from autoplat.scheduler.clock import Clock, SystemClock
from autoplat.scheduler.cron import CronFormatError, CronSpec
from autoplat.scheduler.firing import BatchResult, ExecutionSink, FireBatcher, FireSink
from autoplat.scheduler.jobs import SystemJobs
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.scheduler")

#: Most missed fires recorded per schedule after downtime (the rest are only counted).
MAX_MISSED_RECORDS = 100
#: A live process that falls behind still fires what is at most this late (or the grace).
LATE_TOLERANCE = 10.0
#: Changes committed this long before a reload are read again, in case they committed late.
RELOAD_OVERLAP = timedelta(seconds=5)


@dataclass(slots=True)
class _Entry:
    spec: CronSpec
    key: tuple[str, str]
    generation: int


class Scheduler:
    """Fires schedules exactly once and runs the platform's system jobs."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        executions: ExecutionManager,
        *,
        clock: Clock | None = None,
        sink: FireSink | None = None,
        reload_interval: float = 1.0,
        resync_interval: float = 300.0,
        batch_size: int = 500,
    ) -> None:
        self.settings = settings
        self.db = db
        self.executions = executions
        #: Replaceable before start(), e.g. by a ManualClock in tests.
        self.clock: Clock = clock or SystemClock()
        self.sink: FireSink = sink or ExecutionSink(executions)
        self.reload_interval = reload_interval
        self.resync_interval = resync_interval
        self.batch_size = batch_size
        self.tasks = TaskOwner("scheduler")
        self.jobs = SystemJobs(settings, db)
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[datetime, int, str, int, datetime]] = []
        self._seq = itertools.count()
        self._generations = itertools.count(1)
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._batcher: FireBatcher | None = None
        self._reload_since: datetime | None = None
        self._last_resync = 0.0
        #: Running totals of this process: fires it created runs for, fires another won.
        self.counters = {"fired": 0, "failed": 0, "lost": 0, "missed": 0}

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load schedules and start firing them; start the system jobs."""
        self._wake = asyncio.Event()
        # SQLite has one connection per process; PostgreSQL can take batches side by side.
        width = max(1, min(4, self.settings.db_pool_size // 2)) if self.db.is_postgres else 1
        self._slots = asyncio.Semaphore(width)
        # executions.submit(conn=...) opens connections of its own for reads, which SQLite's
        # single pooled connection cannot give while the fire's transaction holds it.
        self._batcher = FireBatcher(self.db, self.sink, atomic=self.db.is_postgres)
        await self._batcher.recover(self.clock.now(), self.settings.schedule_grace_seconds)
        await self._resync()
        self._loop_task = self.tasks.spawn("loop", self._run())
        await self.jobs.start()
        log.info("scheduler.started", schedules=len(self._entries))

    async def stop(self, timeout: float) -> None:
        """Stop firing and wait for in-flight fires."""
        await self.jobs.stop(timeout)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.wait({self._loop_task}, timeout=timeout)
        await self.tasks.stop(timeout)
        log.info("scheduler.stopped")

    # --- called by the API --------------------------------------------------------------

    def now(self) -> datetime:
        """The scheduler's current time (UTC)."""
        return self.clock.now()

    def schedule_changed(self, record: ScheduleRecord | None, schedule_id: str = "") -> None:
        """Apply a change made in this process now, instead of at the next reload."""
        if record is None:
            self._drop(schedule_id)
        else:
            self._apply(record, catch_up=True)
        if self._wake is not None:
            self._wake.set()

    @property
    def scheduled_count(self) -> int:
        """How many schedules this process is timing."""
        return len(self._entries)

    # --- the loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        next_reload = self.clock.now() + timedelta(seconds=self.reload_interval)
        while True:
            now = self.clock.now()
            if now >= next_reload:
                await self._reload_safely()
                next_reload = self.clock.now() + timedelta(seconds=self.reload_interval)
                continue
            due = self._pop_due(now)
            if due:
                self._dispatch(due, now)
                continue
            wake_at = min(next_reload, self._heap[0][0]) if self._heap else next_reload
            await self._wait((wake_at - now).total_seconds())

    async def _wait(self, seconds: float) -> None:
        assert self._wake is not None
        if self._wake.is_set():
            self._wake.clear()
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            self._wake.clear()

    def _pop_due(self, now: datetime) -> list[tuple[str, datetime]]:
        due: list[tuple[str, datetime]] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, sid, generation, fire_time = heapq.heappop(self._heap)
            entry = self._entries.get(sid)
            if entry is None or entry.generation != generation:
                continue  # changed or removed since this was pushed
            due.append((sid, fire_time))
        return due

    def _dispatch(self, due: list[tuple[str, datetime]], now: datetime) -> None:
        late_limit = max(self.settings.schedule_grace_seconds, LATE_TOLERANCE)
        fire: list[tuple[str, datetime]] = []
        missed: list[tuple[str, datetime]] = []
        for sid, fire_time in due:
            entry = self._entries[sid]
            if (now - fire_time).total_seconds() > late_limit:
                missed.append((sid, fire_time))
                self._push(sid, entry, entry.spec.next_after(now))
            else:
                fire.append((sid, fire_time))
                self._push(sid, entry, entry.spec.next_after(fire_time))
        if missed:
            self.tasks.spawn("missed", self._record_missed(missed))
        for start in range(0, len(fire), self.batch_size):
            batch = fire[start : start + self.batch_size]
            self.tasks.spawn("fire", self._fire(batch))

    async def _fire(self, batch: list[tuple[str, datetime]]) -> None:
        assert self._slots is not None
        async with self._slots:
            result = await self._fire_batcher.fire(batch, self._next_fire, self.clock.now)
        self._after_batch(result)

    def _after_batch(self, result: BatchResult) -> None:
        for sid in result.gone:
            self._drop(sid)
        self.counters["fired"] += result.fired
        self.counters["failed"] += result.failed
        self.counters["lost"] += result.lost
        if result.fired or result.failed:
            log.info(
                "schedule.fired",
                fired=result.fired,
                failed=result.failed,
                lost=result.lost,
                max_lag=round(max(result.lags, default=0.0), 3),
            )

    async def _record_missed(self, missed: list[tuple[str, datetime]]) -> None:
        count = await self._fire_batcher.record_missed(missed, self._next_fire)
        self.counters["missed"] += count
        if count:
            log.warning("schedule.missed", count=count)

    @property
    def _fire_batcher(self) -> FireBatcher:
        if self._batcher is None:
            raise RuntimeError("the scheduler is not started")
        return self._batcher

    def _next_fire(self, schedule_id: str, fire_time: datetime) -> datetime | None:
        entry = self._entries.get(schedule_id)
        return entry.spec.next_after(fire_time) if entry is not None else None

    # --- the set of schedules -----------------------------------------------------------

    def _push(
        self, sid: str, entry: _Entry, due: datetime | None, fire: datetime | None = None
    ) -> None:
        if due is not None:
            heapq.heappush(self._heap, (due, next(self._seq), sid, entry.generation, fire or due))

    def _drop(self, schedule_id: str) -> None:
        self._entries.pop(schedule_id, None)

    def _apply(self, record: ScheduleRecord, *, catch_up: bool) -> None:
        """Time ``record`` (or stop timing it); unchanged timing is left alone."""
        if record.status != ACTIVE:
            self._drop(record.id)
            return
        key = (record.cron, record.timezone)
        known = self._entries.get(record.id)
        if known is not None and known.key == key:
            return
        try:
            spec = CronSpec.parse(record.cron, record.timezone)
        except CronFormatError as exc:  # stored before a validation change: skip, say why
            log.error("schedule.bad_cron", schedule_id=record.id, error=str(exc))
            return
        entry = _Entry(spec=spec, key=key, generation=next(self._generations))
        self._entries[record.id] = entry
        now = self.clock.now()
        start = record.next_fire_at
        if start is None or start > now or not catch_up:
            self._push(record.id, entry, start if start and start > now else spec.next_after(now))
            return
        self._catch_up(record.id, entry, start, now)

    def _catch_up(self, sid: str, entry: _Entry, start: datetime, now: datetime) -> None:
        """Fires owed since ``start``: the latest within the grace runs, older ones are missed."""
        spec = entry.spec
        latest = spec.latest_at_or_before(now)
        missed_until = latest
        if (
            latest is not None
            and (now - latest).total_seconds() <= self.settings.schedule_grace_seconds
        ):
            self._push(sid, entry, now, latest)
            missed_until = latest - timedelta(microseconds=1)
        missed: list[tuple[str, datetime]] = []
        moment: datetime | None = start
        while moment is not None and missed_until is not None and moment <= missed_until:
            if len(missed) == MAX_MISSED_RECORDS:
                log.warning(
                    "schedule.missed_not_recorded", schedule_id=sid, after=moment.isoformat()
                )
                break
            missed.append((sid, moment))
            moment = spec.next_after(moment)
        if missed:
            self.tasks.spawn("missed", self._record_missed(missed))
        self._push(sid, entry, spec.next_after(now))

    async def _reload_safely(self) -> None:
        try:
            if asyncio.get_running_loop().time() - self._last_resync >= self.resync_interval:
                await self._resync()
            else:
                await self._reload_changes()
        except Exception as exc:  # the database may be briefly away; keep timing what we have
            log.warning("scheduler.reload_failed", error=str(exc)[:300])

    async def _resync(self) -> None:
        """Read every active schedule; forget the ones that are no longer active."""
        started = utcnow()
        records, _ = await self.db.schedules.load()
        active = {r.id for r in records}
        for sid in list(self._entries):
            if sid not in active:
                self._drop(sid)
        for record in records:
            self._apply(record, catch_up=True)
        self._reload_since = started - RELOAD_OVERLAP
        self._last_resync = asyncio.get_running_loop().time()

    async def _reload_changes(self) -> None:
        """Read the schedules changed since the last look (by any process)."""
        started = utcnow()
        records, _ = await self.db.schedules.load(changed_since=self._reload_since)
        for record in records:
            self._apply(record, catch_up=True)
        self._reload_since = started - RELOAD_OVERLAP
