"""System jobs on aiocron: the stuck-run monitor, execution-data retention, file expiry.

Every process runs the crons; a tick is taken by one process only (``try_start`` on the job's
row), and each run's outcome is stored for ``GET /api/admin/jobs``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiocron

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.system_jobs import SystemJobStore
from autoplat.db.types import utcnow
from autoplat.errors import NotFound
from autoplat.files.service import FileService
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.scheduler.jobs")

STUCK_MONITOR = "stuck_monitor"
RETENTION = "retention"
FILE_EXPIRY = "file_expiry"
#: Most expired files one run deletes, in chunks; the rest waits for the next run.
FILE_EXPIRY_CHUNK = 500
FILE_EXPIRY_MAX_CHUNKS = 20
#: Most retention deletes per run, in chunks; the rest waits for the next run.
RETENTION_CHUNK = 1000
RETENTION_MAX_CHUNKS = 50

JobBody = Callable[[datetime], Awaitable[dict[str, Any]]]


class SystemJobs:
    """Runs the system jobs on their crons and records each outcome."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        *,
        monitor_cron: str = "* * * * *",
        retention_cron: str = "17 * * * *",
        file_expiry_cron: str = "*/10 * * * *",
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = SystemJobStore(db)
        self.tasks = TaskOwner("system-jobs")
        # name -> (cron, seconds another process's run of the same tick may lie back)
        self.crons = {
            STUCK_MONITOR: (monitor_cron, 30.0),
            RETENTION: (retention_cron, 1800.0),
            FILE_EXPIRY: (file_expiry_cron, 300.0),
        }
        self._bodies: dict[str, JobBody] = {
            STUCK_MONITOR: self.monitor,
            RETENTION: self.retention,
            FILE_EXPIRY: self.file_expiry,
        }
        self._timers: list[aiocron.Cron] = []

    def add(self, name: str, cron: str, lag: float, body: JobBody) -> None:
        """Add a system job of another component (before :meth:`start`)."""
        self.crons[name] = (cron, lag)
        self._bodies[name] = body

    async def start(self) -> None:
        """Start the crons in the running loop."""
        loop = asyncio.get_running_loop()
        for name, (spec, _) in self.crons.items():
            timer = aiocron.Cron(spec, func=self._ticker(name), loop=loop, tz=UTC)
            timer.start()
            self._timers.append(timer)

    async def stop(self, timeout: float) -> None:
        """Stop the crons and wait for a job that is running."""
        for timer in self._timers:
            timer.stop()
        self._timers.clear()
        await self.tasks.stop(timeout)

    def _ticker(self, name: str) -> Callable[[], None]:
        def tick() -> None:
            self.tasks.spawn(name, self._tick(name))

        return tick

    async def _tick(self, name: str) -> None:
        now = utcnow()
        if await self.store.try_start(name, now, self.crons[name][1]):
            await self._execute(name, now)

    async def run_now(self, name: str) -> dict[str, Any]:
        """Run job ``name`` at once (whatever its cron says); return its details."""
        if name not in self._bodies:
            raise NotFound(f"no system job named {name!r}", details=[{"field": "name"}])
        now = utcnow()
        await self.store.try_start(name, now, 0.0)
        return await self._execute(name, now)

    async def _execute(self, name: str, now: datetime) -> dict[str, Any]:
        try:
            details = await self._bodies[name](now)
        except Exception as exc:  # a failed run is recorded and logged; the next tick retries
            log.error("system_job.failed", job=name, error=str(exc)[:500])
            await self.store.finish(name, "error", error=str(exc)[:2000], details={})
            return {}
        await self.store.finish(name, "ok", details=details)
        log.info("system_job.finished", job=name, **details)
        return details

    async def monitor(self, now: datetime) -> dict[str, Any]:
        """Log runs stuck QUEUED or RUNNING past the threshold; release lapsed leases."""
        stuck = await self.store.find_stuck(now, self.settings.stuck_after_seconds)
        if stuck.queued:
            log.warning("execution.stuck_queued", count=len(stuck.queued), ids=stuck.queued[:20])
        if stuck.running:
            log.warning("execution.stuck_running", count=len(stuck.running), ids=stuck.running[:20])
        if stuck.released:
            log.warning(
                "execution.lease_lapsed", count=len(stuck.released), ids=stuck.released[:20]
            )
        return {
            "stuck_queued": len(stuck.queued),
            "stuck_running": len(stuck.running),
            "released": len(stuck.released),
            "stuck_after_seconds": self.settings.stuck_after_seconds,
        }

    async def retention(self, now: datetime) -> dict[str, Any]:
        """Delete finished runs and schedule fires older than ``retention_days``."""
        days = self.settings.retention_days
        if days == 0:
            return {"retention_days": 0, "deleted_runs": 0, "deleted_fires": 0}
        before = now - timedelta(days=days)
        runs = fires = 0
        for _ in range(RETENTION_MAX_CHUNKS):
            deleted = await self.store.delete_old_runs(before, limit=RETENTION_CHUNK)
            runs += deleted
            if deleted < RETENTION_CHUNK:
                break
        fires = await self.db.schedules.prune_fires(before)
        return {"retention_days": days, "deleted_runs": runs, "deleted_fires": fires}

    async def file_expiry(self, now: datetime) -> dict[str, Any]:
        """Delete the files whose time has passed (their content, then their records)."""
        files = FileService.from_db(self.db)
        deleted = failed = 0
        for _ in range(FILE_EXPIRY_MAX_CHUNKS):
            report = await files.purge_expired(now, limit=FILE_EXPIRY_CHUNK)
            deleted += report["expired_files"]
            failed += report["failed"]
            if not report["more"] or report["expired_files"] == 0:
                break
        return {"deleted_files": deleted, "failed_files": failed}
