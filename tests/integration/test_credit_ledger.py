"""The credit ledger on a real database: atomic spends, idempotency, balance = sum of ledger."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from autoplat.config import Settings
from autoplat.credits.ledger import TransactionType
from autoplat.db.manager import DatabaseManager
from autoplat.db.types import utcnow
from autoplat.errors import InsufficientCredits, NotFound

USER = "ledger-user"


@pytest.fixture
async def db(autoplat_settings: Settings) -> AsyncIterator[DatabaseManager]:
    manager = DatabaseManager(autoplat_settings)
    await manager.connect()
    await manager.users.ensure(USER)
    yield manager
    await manager.disconnect()


async def _grant(db: DatabaseManager, amount: int, key: str = "") -> None:
    await db.credits.deposit(
        USER, amount, type=TransactionType.GRANT, key=key or f"grant-{random.random()}"
    )


async def test_new_user_has_zero_balance_and_empty_ledger(db: DatabaseManager) -> None:
    assert await db.credits.balance(USER) == 0
    assert await db.credits.ledger_sum(USER) == 0
    assert await db.credits.list_transactions(USER) == ([], 0)


async def test_deposits_and_spends_keep_running_balances(db: DatabaseManager) -> None:
    await db.credits.deposit(USER, 50, type=TransactionType.TOP_UP, key="t1")
    spent = await db.credits.spend(USER, 20, key="u1", metadata={"block_id": "b"})
    assert spent is not None and spent.created
    assert spent.transaction.amount == -20
    assert spent.transaction.running_balance == 30
    assert spent.balance_before == 50
    assert spent.transaction.metadata == {"block_id": "b"}
    await db.credits.deposit(USER, 5, type=TransactionType.GRANT, key="g1")
    assert await db.credits.balance(USER) == 35
    assert await db.credits.ledger_sum(USER) == 35
    items, total = await db.credits.list_transactions(USER)
    assert total == 3
    assert [(t.type, t.amount, t.running_balance) for t in items] == [
        (TransactionType.GRANT, 5, 35),
        (TransactionType.USAGE, -20, 30),
        (TransactionType.TOP_UP, 50, 50),
    ]


async def test_a_spend_that_does_not_fit_writes_nothing(db: DatabaseManager) -> None:
    await _grant(db, 10)
    with pytest.raises(InsufficientCredits) as caught:
        await db.credits.spend(USER, 11, key="too-much")
    assert caught.value.status == 402
    assert await db.credits.balance(USER) == 10
    assert await db.credits.by_key(USER, "too-much") is None
    assert (await db.credits.list_transactions(USER))[1] == 1


async def test_spending_without_a_balance_row_is_insufficient(db: DatabaseManager) -> None:
    with pytest.raises(InsufficientCredits):
        await db.credits.spend(USER, 1, key="nothing")
    assert await db.credits.balance(USER) == 0


async def test_the_same_key_twice_records_once(db: DatabaseManager) -> None:
    first = await db.credits.deposit(USER, 30, type=TransactionType.TOP_UP, key="same")
    again = await db.credits.deposit(USER, 30, type=TransactionType.TOP_UP, key="same")
    assert first.created and not again.created
    assert again.transaction.id == first.transaction.id
    spend = await db.credits.spend(USER, 10, key="spend-once")
    spend_again = await db.credits.spend(USER, 10, key="spend-once")
    assert spend is not None and spend_again is not None
    assert not spend_again.created and spend_again.transaction.id == spend.transaction.id
    assert await db.credits.balance(USER) == 20
    assert await db.credits.ledger_sum(USER) == 20


async def test_the_same_key_concurrently_records_once(db: DatabaseManager) -> None:
    await _grant(db, 100)
    results = await asyncio.gather(*(db.credits.spend(USER, 7, key="dup") for _ in range(20)))
    ids = {r.transaction.id for r in results if r is not None}
    assert len(ids) == 1
    assert sum(1 for r in results if r is not None and r.created) == 1
    assert await db.credits.balance(USER) == 93
    grants = await asyncio.gather(
        *(db.credits.deposit(USER, 5, type=TransactionType.GRANT, key="g") for _ in range(20))
    )
    assert sum(1 for g in grants if g.created) == 1
    assert await db.credits.balance(USER) == 98 == await db.credits.ledger_sum(USER)


async def test_200_concurrent_charges_of_1_on_100_exactly_100_succeed(
    db: DatabaseManager,
) -> None:
    await _grant(db, 100)

    async def charge(i: int) -> bool:
        try:
            await db.credits.spend(USER, 1, key=f"c-{i}")
        except InsufficientCredits:
            return False
        return True

    outcomes = await asyncio.gather(*(charge(i) for i in range(200)))
    assert sum(outcomes) == 100
    assert await db.credits.balance(USER) == 0
    assert await db.credits.ledger_sum(USER) == 0
    usage, total = await db.credits.list_transactions(
        USER, types=[TransactionType.USAGE], limit=250
    )
    assert total == 100
    # Each spend saw a distinct balance: the running balances are exactly 99..0.
    assert sorted(t.running_balance for t in usage) == list(range(100))


async def test_balance_equals_ledger_after_a_random_mix(db: DatabaseManager) -> None:
    rng = random.Random(6)
    spent_ids: list[str] = []

    async def operation(i: int) -> None:
        roll = rng.random()
        if roll < 0.3:
            await db.credits.deposit(
                USER, rng.randint(1, 40), type=TransactionType.TOP_UP, key=f"t{i}"
            )
        elif roll < 0.8:
            try:
                posting = await db.credits.spend(USER, rng.randint(1, 25), key=f"s{i}")
            except InsufficientCredits:
                return
            assert posting is not None
            spent_ids.append(posting.transaction.id)
        elif spent_ids:
            entry = await db.credits.get(rng.choice(spent_ids))
            assert entry is not None
            await db.credits.deposit(
                USER, -entry.amount, type=TransactionType.REFUND, key=f"refund:{entry.id}"
            )

    for batch in range(6):
        await asyncio.gather(*(operation(batch * 40 + i) for i in range(40)))
        balance = await db.credits.balance(USER)
        assert balance >= 0
        assert balance == await db.credits.ledger_sum(USER)


async def test_partial_spend_takes_what_is_left(db: DatabaseManager) -> None:
    await _grant(db, 4)
    posting = await db.credits.spend(USER, 10, key="p1", partial=True)
    assert posting is not None
    assert posting.transaction.amount == -4
    assert posting.transaction.metadata == {"requested": 10, "capped": True}
    assert await db.credits.spend(USER, 10, key="p2", partial=True) is None
    assert await db.credits.balance(USER) == 0 == await db.credits.ledger_sum(USER)


async def test_deposit_for_an_unknown_user_is_not_found(db: DatabaseManager) -> None:
    with pytest.raises(NotFound):
        await db.credits.deposit("nobody", 5, type=TransactionType.GRANT, key="k")


async def test_list_filters_by_type_and_time_and_pages(db: DatabaseManager) -> None:
    start = utcnow()
    for i in range(5):
        await _grant(db, 10, key=f"g{i}")
    for i in range(3):
        await db.credits.spend(USER, 1, key=f"u{i}")
    usage, total = await db.credits.list_transactions(USER, types=[TransactionType.USAGE])
    assert total == 3 and {t.type for t in usage} == {TransactionType.USAGE}
    page, total = await db.credits.list_transactions(USER, offset=2, limit=3)
    assert total == 8 and len(page) == 3
    later = utcnow() + timedelta(seconds=1)
    assert (await db.credits.list_transactions(USER, since=later))[1] == 0
    assert (await db.credits.list_transactions(USER, until=start))[1] == 0
    assert (await db.credits.list_transactions(USER, since=start, until=later))[1] == 8
