"""Scheduler: cron schedules of graph runs and system jobs.

One loop keeps the timetable (the next fire time of every active schedule, in a heap),
sleeps until the earliest or until a schedule changes, and fires everything due in batches.
Fires due within ``lookahead`` seconds are taken early so that their runs are built while
waiting; they are still written no earlier than their fire time. Every process runs the
same loop over the same schedules; the (schedule, fire time) key in the database lets
exactly one of them create each run. Changes made by other processes are picked up by a
cheap ``updated_at`` query every ``reload_interval`` seconds, and a full re-read every
``resync_interval`` forgets deleted schedules. System jobs run on aiocron (``jobs.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.schedules import ScheduleRecord
from autoplat.db.types import utcnow
from autoplat.executions.manager import ExecutionManager
from autoplat.logging import get_logger
from autoplat.scheduler.clock import Clock, SystemClock
from autoplat.scheduler.firing import BatchResult, FireBatcher
from autoplat.scheduler.jobs import SystemJobs
from autoplat.scheduler.timetable import Fire, Timetable
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.scheduler")

#: Changes committed this long before a reload are read again, in case they committed late.
RELOAD_OVERLAP = timedelta(seconds=2)
#: When fires that met an unavailable database are tried again (until they are too late).
RETRY_DELAY = timedelta(seconds=2)


class Scheduler:
    """Fires schedules exactly once and runs the platform's system jobs."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        executions: ExecutionManager,
        *,
        clock: Clock | None = None,
        reload_interval: float = 1.0,
        resync_interval: float = 60.0,
        batch_size: int = 10_000,
    ) -> None:
        self.settings = settings
        self.db = db
        self.executions = executions
        #: Replaceable before start(), e.g. by a ManualClock in tests.
        self.clock: Clock = clock or SystemClock()
        self.reload_interval = reload_interval
        self.resync_interval = resync_interval
        self.batch_size = batch_size
        #: How early due fires are taken to build their runs (written at their time).
        self.lookahead = 0.5
        #: Batches written at once (0: chosen from the database and its pool size).
        self.fire_width = 0
        self.tasks = TaskOwner("scheduler")
        self.jobs = SystemJobs(settings, db)
        self.timetable = Timetable(settings.schedule_grace_seconds)
        #: Running totals of this process: fires it created runs for, fires another won, ...
        self.counters = {"fired": 0, "failed": 0, "lost": 0, "missed": 0}
        #: Called with every written batch (lags are measured after its commit): metrics, bench.
        self.batch_listeners: list[Callable[[BatchResult], None]] = []
        self._batcher = FireBatcher(db, executions)
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._reload_since: datetime | None = None
        self._last_resync = 0.0

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load schedules and start firing them; start the system jobs."""
        self._wake = asyncio.Event()
        # SQLite has one connection per process; PostgreSQL can take batches side by side.
        self._slots = asyncio.Semaphore(self._width)
        await self._resync()
        self._loop_task = self.tasks.spawn("loop", self._run())
        await self.jobs.start()
        log.info("scheduler.started", schedules=len(self.timetable))

    async def stop(self, timeout: float) -> None:
        """Stop firing and wait for in-flight fires."""
        await self.jobs.stop(timeout)
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.wait({self._loop_task}, timeout=timeout)
        await self.tasks.stop(timeout)
        self._wake = None
        log.info("scheduler.stopped")

    @property
    def _lookahead(self) -> timedelta:
        return timedelta(seconds=self.lookahead)

    @property
    def _width(self) -> int:
        """Batches written at once: SQLite has one connection; two suit PostgreSQL best."""
        if self.fire_width:
            return self.fire_width
        return max(1, min(2, self.settings.db_pool_size // 2)) if self.db.is_postgres else 1

    # --- called by the API --------------------------------------------------------------

    def now(self) -> datetime:
        """The scheduler's current time (UTC)."""
        return self.clock.now()

    def schedule_changed(self, record: ScheduleRecord | None, schedule_id: str = "") -> None:
        """Apply a change made in this process now, instead of at the next reload."""
        if self._wake is None:
            return  # not running here (scheduler disabled): the running processes reload it
        if record is None:
            self.timetable.drop(schedule_id)
        else:
            self._record_missed(self.timetable.apply(record, self.clock.now()))
        self._wake.set()

    @property
    def scheduled_count(self) -> int:
        """How many schedules this process is timing."""
        return len(self.timetable)

    # --- the loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        next_reload = self.clock.now() + timedelta(seconds=self.reload_interval)
        while True:
            now = self.clock.now()
            if now >= next_reload:
                await self._reload_safely()
                next_reload = self.clock.now() + timedelta(seconds=self.reload_interval)
                continue
            # Fires due very soon are taken early: their runs are built while waiting and only
            # written (committed) once their time has come.
            fire, missed = self.timetable.pop_due(now, now + self._lookahead)
            if fire or missed:
                self._record_missed(missed)
                # As many batches as can be written at once, each as large as allowed: every
                # statement then carries thousands of rows (measured fastest on PostgreSQL).
                size = max(1, min(self.batch_size, -(-len(fire) // self._width)))
                for start in range(0, len(fire), size):
                    self.tasks.spawn("fire", self._fire(fire[start : start + size]))
                continue
            due = self.timetable.next_wake()
            wake_at = min(next_reload, due - self._lookahead) if due is not None else next_reload
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

    async def _fire(self, batch: list[Fire]) -> None:
        assert self._slots is not None
        result = await self._batcher.fire(batch, self.clock, self._slots)
        self._count(result)

    def _count(self, result: BatchResult) -> None:
        for schedule_id in result.paused | result.gone:
            self.timetable.drop(schedule_id)
        if result.retry:
            again = self.clock.now() + RETRY_DELAY
            for schedule_id, fire_time in result.retry:
                self.timetable.retry(schedule_id, fire_time, again)
            if self._wake is not None:
                self._wake.set()
        for listener in self.batch_listeners:
            listener(result)
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
                **result.timings,
            )

    def _record_missed(self, missed: list[Fire]) -> None:
        if missed:
            self.tasks.spawn("missed", self._write_missed(missed))

    async def _write_missed(self, missed: list[Fire]) -> None:
        count = await self._batcher.record_missed(missed)
        self.counters["missed"] += count
        if count:
            log.warning("schedule.missed", count=count)

    # --- reloading ----------------------------------------------------------------------

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
        records = await self.db.schedules.load()
        active = {r.id for r in records}
        for sid in self.timetable.ids() - active:
            self.timetable.drop(sid)
        self._apply_all(records)
        self._reload_since = started - RELOAD_OVERLAP
        self._last_resync = asyncio.get_running_loop().time()

    async def _reload_changes(self) -> None:
        """Read the schedules changed since the last look (by any process)."""
        started = utcnow()
        self._apply_all(await self.db.schedules.load(changed_since=self._reload_since))
        self._reload_since = started - RELOAD_OVERLAP

    def _apply_all(self, records: list[ScheduleRecord]) -> None:
        now = self.clock.now()
        missed: list[Fire] = []
        for record in records:
            missed += self.timetable.apply(record, now)
        self._record_missed(missed)
