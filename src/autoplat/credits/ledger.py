"""Ledger vocabulary: transaction types, the transaction record and notification types."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class TransactionType(enum.StrEnum):
    """Kinds of ledger entries; USAGE amounts are negative, the others positive."""

    TOP_UP = "TOP_UP"
    USAGE = "USAGE"
    GRANT = "GRANT"
    REFUND = "REFUND"


class NotificationType(enum.StrEnum):
    """Credit notifications recorded for a user."""

    LOW_BALANCE = "LOW_BALANCE"
    ZERO_BALANCE = "ZERO_BALANCE"


@dataclass(frozen=True, slots=True)
class Transaction:
    """One ledger entry as stored; ``running_balance`` is the balance right after it."""

    id: str
    user_id: str
    type: TransactionType
    amount: int
    running_balance: int
    idempotency_key: str
    is_active: bool
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The entry as returned by the API."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "type": self.type.value,
            "amount": self.amount,
            "running_balance": self.running_balance,
            "idempotency_key": self.idempotency_key,
            "is_active": self.is_active,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Posting:
    """The outcome of writing one entry: the entry and whether this call created it."""

    transaction: Transaction
    created: bool

    @property
    def balance_before(self) -> int:
        """The balance just before the entry."""
        return self.transaction.running_balance - self.transaction.amount
