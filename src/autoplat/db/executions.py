"""Data methods for graph and node executions (the durable queue's SQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class ExecutionStore:
    """Data methods for graph and node executions (the durable queue's SQL)."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
