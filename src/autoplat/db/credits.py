"""Data methods for the credit ledger and balances."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class CreditStore:
    """Data methods for the credit ledger and balances."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
