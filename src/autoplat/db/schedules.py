"""Data methods for schedules and their fires."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class ScheduleStore:
    """Data methods for schedules and their fires."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
