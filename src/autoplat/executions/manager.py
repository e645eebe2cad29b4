"""ExecutionManager: the durable execution queue and the graph executor."""

from __future__ import annotations

from autoplat.blocks.registry import BlockRegistry
from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.executions")


class ExecutionManager:
    """Claims graph runs from the database and executes them node by node."""

    def __init__(self, settings: Settings, db: DatabaseManager, blocks: BlockRegistry) -> None:
        self.settings = settings
        self.db = db
        self.blocks = blocks
        self.tasks = TaskOwner("executions")

    async def start(self) -> None:
        """Start the workers."""
        log.info("executions.started", workers=self.settings.graph_workers)

    async def stop(self, timeout: float) -> None:
        """Drain running work for up to ``timeout`` seconds, then stop."""
        await self.tasks.stop(timeout)
        log.info("executions.stopped")
