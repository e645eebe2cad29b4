"""The optional monthly grant refill: the first balance look-up of a month tops it up."""

from __future__ import annotations

from datetime import UTC, datetime

from autoplat.config import Settings
from autoplat.credits.ledger import TransactionType
from autoplat.db.manager import DatabaseManager
from autoplat.db.types import utcnow
from autoplat.errors import NotFound
from autoplat.logging import get_logger

log = get_logger("autoplat.credits")


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    return datetime(now.year, now.month, 1, tzinfo=UTC)


class MonthlyRefill:
    """Brings a user's balance up to ``settings.monthly_refill`` once per calendar month.

    A user whose ledger has no entry yet this month (UTC) and whose balance is below the
    refill amount gets a GRANT of the difference, keyed by the month so concurrent
    processes record it once. Any entry in the month settles it: spending later in the
    month does not refill again.
    """

    def __init__(self, settings: Settings, db: DatabaseManager) -> None:
        self.settings = settings
        self.db = db
        self._settled: dict[str, str] = {}

    async def apply(self, user_id: str, now: datetime | None = None) -> int:
        """Refill the user if due; return the credits granted (0 when none were)."""
        target = self.settings.monthly_refill
        if target <= 0:
            return 0
        now = now or utcnow()
        month = now.strftime("%Y-%m")
        if self._settled.get(user_id) == month:
            return 0
        granted = 0
        if not await self.db.credits.has_entries_since(user_id, month_start(now)):
            balance = await self.db.credits.balance(user_id)
            if balance < target:
                try:
                    posting = await self.db.credits.deposit(
                        user_id,
                        target - balance,
                        type=TransactionType.GRANT,
                        key=f"monthly-refill:{month}",
                        metadata={"reason": "monthly refill", "month": month},
                    )
                except NotFound:
                    return 0
                granted = posting.transaction.amount if posting.created else 0
                log.info("credits.refilled", user_id=user_id, amount=granted, month=month)
        self._settled[user_id] = month
        return granted
