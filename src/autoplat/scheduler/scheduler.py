"""Scheduler: cron schedules of graph runs and system jobs, on aiocron."""

from __future__ import annotations

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.executions.manager import ExecutionManager
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.scheduler")


class Scheduler:
    """Fires schedules exactly once and runs the platform's system jobs."""

    def __init__(
        self, settings: Settings, db: DatabaseManager, executions: ExecutionManager
    ) -> None:
        self.settings = settings
        self.db = db
        self.executions = executions
        self.tasks = TaskOwner("scheduler")

    async def start(self) -> None:
        """Load schedules and start firing them."""
        log.info("scheduler.started")

    async def stop(self, timeout: float) -> None:
        """Stop firing and wait for in-flight fires."""
        await self.tasks.stop(timeout)
        log.info("scheduler.stopped")
