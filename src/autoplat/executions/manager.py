"""ExecutionManager: the durable execution queue and the graph executor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

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

    async def submit(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        schedule_id: str | None = None,
        parent_node_exec_id: str | None = None,
        conn: AsyncConnection | None = None,
    ) -> str:
        """Queue a run of a graph version (the active one when None); return its id.

        Validates the run (422), writes the run and its first node executions in one
        transaction (``conn``'s, when given, so a caller can make it atomic with its own
        writes) and wakes a worker.
        """
        raise NotImplementedError

    async def stop_execution(self, graph_exec_id: str, *, user_id: str) -> None:
        """Ask a run to stop; it ends TERMINATED within a second, wherever it runs."""
        raise NotImplementedError

    async def stop(self, timeout: float) -> None:
        """Drain running work for up to ``timeout`` seconds, then stop."""
        await self.tasks.stop(timeout)
        log.info("executions.stopped")
