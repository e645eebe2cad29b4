"""Data methods for notifications to users."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class NotificationStore:
    """Data methods for notifications to users."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
