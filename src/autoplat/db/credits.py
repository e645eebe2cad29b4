"""Data methods for the credit ledger and balances: every ledger write is one transaction.

A spend is a conditional ``UPDATE user_balances ... WHERE balance >= amount RETURNING
balance`` followed by the ledger insert, in one database transaction: the row lock (or
SQLite's single writer) orders concurrent spends, so a balance never goes below zero and
each entry's ``running_balance`` is the balance right after it. Each entry carries an
idempotency key, unique per user: a second write with the same key changes nothing and
returns the first entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.credits.ledger import Posting, Transaction, TransactionType
from autoplat.db.models import CreditTransaction, UserBalance
from autoplat.db.types import utcnow
from autoplat.errors import Conflict, InsufficientCredits, NotFound

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

LEDGER = cast(Table, CreditTransaction.__table__)
BALANCES = cast(Table, UserBalance.__table__)


class _AlreadyRecorded(Exception):
    """A concurrent write recorded the same idempotency key first; roll back ours."""


def _transaction(row: Row[Any]) -> Transaction:
    return Transaction(
        id=row.id,
        user_id=row.user_id,
        type=TransactionType(row.type),
        amount=row.amount,
        running_balance=row.running_balance,
        idempotency_key=row.idempotency_key,
        is_active=row.is_active,
        created_at=row.created_at,
        metadata=dict(row.metadata or {}),
    )


class CreditStore:
    """Data methods for the credit ledger and balances."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    def _insert(self, table: Table) -> Any:
        return (pg_insert if self.db.is_postgres else sqlite_insert)(table)

    # --- reads --------------------------------------------------------------------------

    async def balance(self, user_id: str) -> int:
        """The user's current balance (0 when they have never had credits)."""
        async with self.db.engine.connect() as conn:
            value = await conn.scalar(
                select(BALANCES.c.balance).where(BALANCES.c.user_id == user_id)
            )
        return int(value or 0)

    async def ledger_sum(self, user_id: str) -> int:
        """The sum of the user's active ledger entries (equals the balance, always)."""
        async with self.db.engine.connect() as conn:
            value = await conn.scalar(
                select(func.coalesce(func.sum(LEDGER.c.amount), 0)).where(
                    LEDGER.c.user_id == user_id, LEDGER.c.is_active.is_(True)
                )
            )
        return int(value or 0)

    async def get(self, transaction_id: str) -> Transaction | None:
        """The entry with this id, or None."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(LEDGER).where(LEDGER.c.id == transaction_id))).first()
        return _transaction(row) if row is not None else None

    async def by_key(self, user_id: str, key: str) -> Transaction | None:
        """The user's entry recorded with this idempotency key, or None."""
        async with self.db.engine.connect() as conn:
            return await self._by_key(conn, user_id, key)

    async def _by_key(self, conn: AsyncConnection, user_id: str, key: str) -> Transaction | None:
        row = (
            await conn.execute(
                select(LEDGER).where(LEDGER.c.user_id == user_id, LEDGER.c.idempotency_key == key)
            )
        ).first()
        return _transaction(row) if row is not None else None

    async def list_transactions(
        self,
        user_id: str,
        *,
        types: Sequence[TransactionType | str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Transaction], int]:
        """A page of the user's entries, newest first, and how many match in total."""
        conditions = [LEDGER.c.user_id == user_id]
        if types:
            conditions.append(LEDGER.c.type.in_([TransactionType(t).value for t in types]))
        if since is not None:
            conditions.append(LEDGER.c.created_at >= since)
        if until is not None:
            conditions.append(LEDGER.c.created_at < until)
        async with self.db.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(LEDGER).where(*conditions))
            rows = await conn.execute(
                select(LEDGER)
                .where(*conditions)
                .order_by(LEDGER.c.created_at.desc(), LEDGER.c.id.desc())
                .offset(offset)
                .limit(limit)
            )
            items = [_transaction(row) for row in rows]
        return items, int(total or 0)

    async def has_entries_since(self, user_id: str, when: datetime) -> bool:
        """Whether the user has any ledger entry created at or after ``when``."""
        async with self.db.engine.connect() as conn:
            found = await conn.scalar(
                select(LEDGER.c.id)
                .where(LEDGER.c.user_id == user_id, LEDGER.c.created_at >= when)
                .limit(1)
            )
        return found is not None

    # --- writes -------------------------------------------------------------------------

    async def spend(
        self,
        user_id: str,
        amount: int,
        *,
        key: str,
        metadata: Mapping[str, Any] | None = None,
        partial: bool = False,
    ) -> Posting | None:
        """Record a USAGE entry of ``amount`` credits, or raise InsufficientCredits.

        With ``partial`` a spend that does not fit takes what is left instead (None when
        nothing is left); used for costs measured after the work is done.
        """
        if amount <= 0:
            raise ValueError("a spend must be a positive number of credits")
        try:
            # No look-up of the key first: a repeated key is rare, and its ledger insert
            # conflicts, which rolls the balance change back (see _record).
            async with self.db.begin() as conn:
                take = amount
                if partial:
                    take = min(amount, await self._locked_balance(conn, user_id))
                    if take <= 0:
                        existing = await self._by_key(conn, user_id, key)
                        return Posting(existing, created=False) if existing else None
                new_balance = await conn.scalar(
                    update(BALANCES)
                    .where(BALANCES.c.user_id == user_id, BALANCES.c.balance >= take)
                    .values(balance=BALANCES.c.balance - take, updated_at=utcnow())
                    .returning(BALANCES.c.balance)
                )
                if new_balance is None:
                    existing = await self._by_key(conn, user_id, key)
                    if existing is not None:
                        return Posting(existing, created=False)
                    balance = await self._locked_balance(conn, user_id)
                    raise InsufficientCredits(
                        f"insufficient credits: {take} needed, balance is {balance}",
                        details=[{"required": take, "balance": balance}],
                    )
                info = dict(metadata or {})
                if take != amount:
                    info.update(requested=amount, capped=True)
                return await self._record(
                    conn, user_id, TransactionType.USAGE, -take, int(new_balance), key, info
                )
        except _AlreadyRecorded:
            return await self._replay(user_id, key)

    async def deposit(
        self,
        user_id: str,
        amount: int,
        *,
        type: TransactionType,
        key: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> Posting:
        """Record a positive entry (TOP_UP, GRANT, REFUND); NotFound for an unknown user."""
        if amount <= 0:
            raise ValueError("a deposit must be a positive number of credits")
        if type is TransactionType.USAGE:
            raise ValueError("usage is recorded with spend()")
        stmt = self._insert(BALANCES).values(user_id=user_id, balance=amount, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=[BALANCES.c.user_id],
            set_={"balance": BALANCES.c.balance + amount, "updated_at": utcnow()},
        ).returning(BALANCES.c.balance)
        try:
            async with self.db.begin() as conn:
                new_balance = int(await conn.scalar(stmt) or 0)
                return await self._record(
                    conn, user_id, type, amount, new_balance, key, dict(metadata or {})
                )
        except _AlreadyRecorded:
            return await self._replay(user_id, key)
        except IntegrityError as exc:
            if "foreign key" in str(exc.orig).lower():
                raise NotFound(f"user {user_id} does not exist") from None
            raise

    async def _locked_balance(self, conn: AsyncConnection, user_id: str) -> int:
        query = select(BALANCES.c.balance).where(BALANCES.c.user_id == user_id)
        if self.db.is_postgres:
            query = query.with_for_update()
        return int(await conn.scalar(query) or 0)

    async def _record(
        self,
        conn: AsyncConnection,
        user_id: str,
        type: TransactionType,
        amount: int,
        running_balance: int,
        key: str,
        metadata: dict[str, Any],
    ) -> Posting:
        entry = Transaction(
            id=str(uuid.uuid4()),
            user_id=user_id,
            type=type,
            amount=amount,
            running_balance=running_balance,
            idempotency_key=key,
            is_active=True,
            created_at=utcnow(),
            metadata=metadata,
        )
        inserted = await conn.scalar(
            self._insert(LEDGER)
            .values(
                id=entry.id,
                user_id=user_id,
                type=type.value,
                amount=amount,
                running_balance=running_balance,
                idempotency_key=key,
                is_active=True,
                metadata=metadata,
                created_at=entry.created_at,
            )
            .on_conflict_do_nothing(index_elements=[LEDGER.c.user_id, LEDGER.c.idempotency_key])
            .returning(LEDGER.c.id)
        )
        if inserted is None:
            raise _AlreadyRecorded
        return Posting(entry, created=True)

    async def _replay(self, user_id: str, key: str) -> Posting:
        existing = await self.by_key(user_id, key)
        if existing is None:  # the other writer's row is committed before ours conflicts
            raise Conflict(f"transaction {key} could not be recorded; try again")
        return Posting(existing, created=False)
