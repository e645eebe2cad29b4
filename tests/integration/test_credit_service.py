"""CreditService on a real database: node charges, fees, notifications, refunds, refills."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autoplat.blocks.registry import BlockRegistry
from autoplat.config import Settings
from autoplat.credits.ledger import NotificationType, TransactionType
from autoplat.credits.service import CreditService
from autoplat.db.manager import DatabaseManager
from autoplat.errors import Conflict, InsufficientCredits, NotFound
from autoplat.testing import make_settings

USER = "service-user"
STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
TEXT_GENERATOR_COSTS = [
    {"cost_amount": 6, "cost_filter": {"model": "big"}},
    {"cost_amount": 2, "cost_filter": {"data": {"tier": "gold"}}},
    {"cost_amount": 1, "cost_type": "byte", "cost_filter": {"data": "bytes"}},
    {"cost_amount": 3, "cost_type": "second", "cost_filter": {"data": "timed"}},
    {"cost_amount": 1},
]


@pytest.fixture
async def db(autoplat_settings: Settings) -> AsyncIterator[DatabaseManager]:
    manager = DatabaseManager(autoplat_settings)
    await manager.connect()
    await manager.users.ensure(USER)
    yield manager
    await manager.disconnect()


def service_for(
    db: DatabaseManager, database_url: str, tmp_path: Path, **overrides: Any
) -> CreditService:
    settings = make_settings(
        database_url, tmp_path, block_costs={STORE_VALUE: TEXT_GENERATOR_COSTS}, **overrides
    )
    blocks = BlockRegistry.builtin().with_cost_overrides(settings.block_costs)
    return CreditService(settings, db, blocks)


@pytest.fixture
def credits(db: DatabaseManager, autoplat_database_url: str, tmp_path: Path) -> CreditService:
    return service_for(db, autoplat_database_url, tmp_path)


async def charge(service: CreditService, node: str, data: Any = None, run: Any = None) -> int:
    block = service.blocks.require(STORE_VALUE)
    return await service.charge_node(
        user_id=USER,
        graph_exec_id="exec-1",
        node_exec_id=node,
        block=block,
        input_data={"input": 1, "data": data},
        run_number=run,
    )


async def test_charge_node_uses_the_first_matching_cost(credits: CreditService) -> None:
    await credits.add_credits(USER, 1000)
    assert await charge(credits, "n1", {"tier": "gold"}) == 2
    assert await charge(credits, "n2", "plain") == 1
    size = len(b'{"input":1,"data":"bytes"}')
    assert await charge(credits, "n3", "bytes") == size
    assert await charge(credits, "n4", "timed") == 0  # per-second: charged after the run
    assert await credits.balance(USER) == 1000 - 3 - size
    usage, _ = await credits.db.credits.list_transactions(USER, types=[TransactionType.USAGE])
    first = usage[-1]
    assert first.metadata["graph_exec_id"] == "exec-1"
    assert first.metadata["node_exec_id"] == "n1"
    assert first.metadata["block_id"] == STORE_VALUE
    assert first.metadata["block_cost"] == 2


async def test_charging_the_same_node_execution_twice_charges_once(credits: CreditService) -> None:
    await credits.add_credits(USER, 10)
    assert await charge(credits, "same", "plain") == 1
    assert await charge(credits, "same", "plain") == 0
    assert await credits.balance(USER) == 9


async def test_per_second_cost_is_charged_after_the_run(credits: CreditService) -> None:
    await credits.add_credits(USER, 10)
    block = credits.blocks.require(STORE_VALUE)
    args: dict[str, Any] = {
        "user_id": USER,
        "graph_exec_id": "e",
        "node_exec_id": "timed-1",
        "block": block,
        "input_data": {"input": 1, "data": "timed"},
    }
    assert await credits.charge_duration(**args, seconds=1.5) == 5
    assert await credits.balance(USER) == 5
    # Work that is done cannot be undone: the rest of the balance is taken, capped.
    assert await credits.charge_duration(**{**args, "node_exec_id": "timed-2"}, seconds=9) == 5
    assert await credits.balance(USER) == 0 == await credits.db.credits.ledger_sum(USER)
    zero, _ = await credits.db.notifications.list_for(USER, type="ZERO_BALANCE")
    assert len(zero) == 1
    plain = {**args, "input_data": {"input": 1, "data": "plain"}}
    assert await credits.charge_duration(**plain, seconds=100) == 0


async def test_execution_fee_every_nth_node_run(
    db: DatabaseManager, autoplat_database_url: str, tmp_path: Path
) -> None:
    service = service_for(
        db, autoplat_database_url, tmp_path, execution_fee=5, execution_fee_every=3
    )
    await service.add_credits(USER, 100)
    charged = [await charge(service, f"n{i}", "plain") for i in range(1, 7)]
    assert charged == [1, 1, 6, 1, 1, 6]
    # The executor may pass the run number itself.
    assert await charge(service, "explicit", "plain", run=9) == 6
    service.forget_execution("exec-1")
    assert await charge(service, "after-forget", "plain") == 1


async def test_out_of_credits_fails_cleanly_and_notifies(credits: CreditService) -> None:
    await credits.add_credits(USER, 1)
    with pytest.raises(InsufficientCredits) as caught:
        await charge(credits, "n1", {"tier": "gold"})
    assert "StoreValueBlock" in caught.value.message
    assert caught.value.details[0]["required"] == 2
    assert await credits.balance(USER) == 1
    zero, total = await credits.db.notifications.list_for(USER, type="ZERO_BALANCE")
    assert total == 1
    assert zero[0]["data"]["node_exec_id"] == "n1"


async def test_crossing_the_low_balance_threshold_notifies_once(
    db: DatabaseManager, autoplat_database_url: str, tmp_path: Path
) -> None:
    service = service_for(db, autoplat_database_url, tmp_path, low_balance_threshold=5)
    await service.add_credits(USER, 7)
    await charge(service, "n1", "plain")  # 6: above
    await charge(service, "n2", "plain")  # 5: at the threshold, not below
    assert (await db.notifications.list_for(USER))[1] == 0
    await charge(service, "n3", "plain")  # 4: crossed
    await charge(service, "n4", "plain")  # 3: still below, no new notice
    low, total = await db.notifications.list_for(USER, type=NotificationType.LOW_BALANCE.value)
    assert total == 1
    assert low[0]["data"] == {"balance": 4, "threshold": 5}
    assert await db.notifications.mark_read(USER, low[0]["id"])
    assert (await db.notifications.list_for(USER, unread_only=True))[1] == 0
    assert not await db.notifications.mark_read("someone-else", low[0]["id"])


async def test_ensure_can_run_refuses_at_zero(credits: CreditService) -> None:
    with pytest.raises(InsufficientCredits) as caught:
        await credits.ensure_can_run(USER)
    assert caught.value.status == 402
    await credits.add_credits(USER, 1)
    await credits.ensure_can_run(USER)


async def test_credits_off_charges_nothing(
    db: DatabaseManager, autoplat_database_url: str, tmp_path: Path
) -> None:
    service = service_for(db, autoplat_database_url, tmp_path, credits_enabled=False)
    await service.ensure_can_run(USER)
    assert await charge(service, "n1", {"tier": "gold"}) == 0
    assert (await db.credits.list_transactions(USER))[1] == 0


async def test_refund_gives_a_usage_back_once(credits: CreditService) -> None:
    await credits.add_credits(USER, 10)
    await charge(credits, "n1", {"tier": "gold"})
    usage, _ = await credits.db.credits.list_transactions(USER, types=[TransactionType.USAGE])
    refund = await credits.refund(usage[0].id, reason="block failed", by="admin")
    assert refund.created
    assert refund.transaction.type is TransactionType.REFUND
    assert refund.transaction.amount == 2
    assert refund.transaction.metadata["refunded_transaction_id"] == usage[0].id
    assert refund.transaction.metadata["node_exec_id"] == "n1"
    again = await credits.refund(usage[0].id)
    assert not again.created
    assert await credits.balance(USER) == 10 == await credits.db.credits.ledger_sum(USER)
    with pytest.raises(Conflict):
        await credits.refund(refund.transaction.id)
    with pytest.raises(NotFound):
        await credits.refund("no-such-transaction")


async def test_monthly_refill_once_per_month(
    db: DatabaseManager, autoplat_database_url: str, tmp_path: Path
) -> None:
    service = service_for(db, autoplat_database_url, tmp_path, monthly_refill=50)
    assert await service.balance(USER) == 50
    await charge(service, "n1", "plain")
    assert await service.balance(USER) == 49  # spending later in the month does not refill
    fresh = service_for(db, autoplat_database_url, tmp_path, monthly_refill=50)
    assert await fresh.refill.apply(USER) == 0  # another process sees the month settled
    next_month = datetime(2100, 1, 1, tzinfo=UTC)
    assert await fresh.refill.apply(USER, now=next_month) == 1
    assert await fresh.refill.apply(USER, now=next_month) == 0
    assert await db.credits.balance(USER) == 50 == await db.credits.ledger_sum(USER)


async def test_service_mix_keeps_balance_equal_to_ledger(credits: CreditService) -> None:
    rng = random.Random(66)
    charged: list[str] = []

    async def step(i: int) -> None:
        roll = rng.random()
        if roll < 0.25:
            await credits.add_credits(USER, rng.randint(1, 30), type=TransactionType.TOP_UP)
        elif roll < 0.85:
            try:
                await charge(credits, f"mix-{i}", rng.choice(["plain", {"tier": "gold"}]))
            except InsufficientCredits:
                return
            charged.append(f"mix-{i}")
        elif charged:
            entry = await credits.db.credits.by_key(USER, f"usage:{rng.choice(charged)}")
            assert entry is not None
            await credits.refund(entry.id, reason="mix")

    for batch in range(5):
        await asyncio.gather(*(step(batch * 50 + i) for i in range(50)))
        balance = await credits.balance(USER)
        assert balance >= 0
        assert balance == await credits.db.credits.ledger_sum(USER)
    refunds, _ = await credits.db.credits.list_transactions(
        USER, types=[TransactionType.REFUND], limit=250
    )
    refunded = [r.metadata["refunded_transaction_id"] for r in refunds]
    assert len(refunded) == len(set(refunded))  # each usage refunded at most once
