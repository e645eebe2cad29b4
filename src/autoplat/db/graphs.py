"""Data methods for graph versions and library entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class GraphStore:
    """Data methods for graph versions and library entries."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
