"""Credits: what running a block costs and charging it to the ledger.

The executor calls :meth:`CreditService.ensure_can_run` when a run is submitted,
:meth:`~CreditService.charge_node` before every node runs and
:meth:`~CreditService.charge_duration` after a node whose block is priced per second.
With ``credits_enabled`` off every method lets the work through and writes nothing.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from autoplat.blocks.base import Block, BlockCostType
from autoplat.blocks.registry import BlockRegistry
from autoplat.config import Settings
from autoplat.credits.costs import NodePrice, duration_amount, fee_due, select_cost, upfront_amount
from autoplat.credits.ledger import NotificationType, Posting, TransactionType
from autoplat.credits.refill import MonthlyRefill
from autoplat.db.manager import DatabaseManager
from autoplat.errors import Conflict, InsufficientCredits, NotFound
from autoplat.logging import get_logger

log = get_logger("autoplat.credits")

#: Executions whose node-run count is kept in memory (oldest forgotten first).
MAX_TRACKED_EXECUTIONS = 10_000


def input_with_defaults(block: Block[Any], input_data: Mapping[str, Any]) -> dict[str, Any]:
    """The node input with the block's defaults filled in, so filters see e.g. the model.

    Null pins count as missing, as when the block validates its input.
    """
    merged = dict(input_data)
    for name, pin in block.input_schema.model_fields.items():
        if merged.get(name) is None and not pin.is_required():
            merged[name] = pin.get_default(call_default_factory=True)
    return merged


class Notifier(Protocol):
    """Where credit notifications go (the NotificationService)."""

    async def notify(self, user_id: str, type: str, data: Mapping[str, Any]) -> Any:
        """Record (and deliver) one notification."""

    async def balance_restored(self, user_id: str) -> None:
        """Credits arrived: a later zero balance is news again."""


class CreditService:
    """Prices block runs and charges them; the executor calls it before each node runs."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        blocks: BlockRegistry,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.blocks = blocks
        self.refill = MonthlyRefill(settings, db)
        self._node_runs: OrderedDict[str, int] = OrderedDict()
        #: Told of balance news (zero, low, restored); without it nobody is.
        self.notifier = notifier

    @property
    def enabled(self) -> bool:
        """Whether credits are charged at all."""
        return self.settings.credits_enabled

    # --- balance and admission ----------------------------------------------------------

    async def balance(self, user_id: str) -> int:
        """The user's balance, after any monthly refill due."""
        if self.enabled:
            await self.refill.apply(user_id)
        return await self.db.credits.balance(user_id)

    async def ensure_can_run(self, user_id: str) -> None:
        """Raise InsufficientCredits (402) when credits are on and the balance is ≤ 0."""
        if not self.enabled:
            return
        balance = await self.balance(user_id)
        if balance <= 0:
            raise InsufficientCredits(
                f"insufficient credits: balance is {balance}; top up to run agents",
                details=[{"balance": balance}],
            )

    # --- pricing ------------------------------------------------------------------------

    def bills_time(self, block_id: str) -> bool:
        """Whether a run of this block may owe per-second costs once it has finished."""
        return self.enabled and any(
            c.cost_type == BlockCostType.SECOND for c in self.blocks.costs_for(block_id)
        )

    def price(
        self, block: Block[Any], input_data: Mapping[str, Any], run_number: int = 1
    ) -> NodePrice:
        """What the ``run_number``-th node run of an execution costs before it starts."""
        costs = self.blocks.costs_for(block.id)
        cost = None
        if costs:
            needs_inputs = any(c.cost_filter for c in costs)
            matched = input_with_defaults(block, input_data) if needs_inputs else input_data
            cost = select_cost(costs, matched)
        fee = fee_due(self.settings.execution_fee, self.settings.execution_fee_every, run_number)
        return NodePrice(upfront_amount(cost, input_data), fee, cost)

    def _next_run_number(self, graph_exec_id: str) -> int:
        count = self._node_runs.pop(graph_exec_id, 0) + 1
        self._node_runs[graph_exec_id] = count
        while len(self._node_runs) > MAX_TRACKED_EXECUTIONS:
            self._node_runs.popitem(last=False)
        return count

    def forget_execution(self, graph_exec_id: str) -> None:
        """Drop the node-run count of a finished execution."""
        self._node_runs.pop(graph_exec_id, None)

    # --- charging -----------------------------------------------------------------------

    async def charge_node(
        self,
        *,
        user_id: str,
        graph_exec_id: str,
        node_exec_id: str,
        block: Block[Any],
        input_data: Mapping[str, Any],
        run_number: int | None = None,
        charge_key: str | None = None,
    ) -> int:
        """Charge one node run; return credits charged or raise InsufficientCredits.

        Call once per node execution, before the block runs; charging the same
        ``charge_key`` (default: the ``node_exec_id``) again charges nothing more and
        returns 0. The executor keys by run, node and input identity, so a node run again
        after a crash under a new node execution id is not charged twice.
        ``run_number`` is the node run's position in its execution (from 1), used for the
        every-Nth execution fee; without it the service counts the calls per
        ``graph_exec_id`` in this process.
        """
        if not self.enabled:
            return 0
        number = run_number if run_number is not None else self._next_run_number(graph_exec_id)
        price = self.price(block, input_data, number)
        if price.total <= 0:
            return 0
        await self.refill.apply(user_id)
        metadata = {
            "reason": "node run",
            "graph_exec_id": graph_exec_id,
            "node_exec_id": node_exec_id,
            "block_id": block.id,
            "block_name": block.name,
            "block_cost": price.block_cost,
            "execution_fee": price.execution_fee,
            "cost_type": price.cost.cost_type.value if price.cost else None,
            "node_run": number,
        }
        key = f"usage:{charge_key or node_exec_id}"
        try:
            posting = await self.db.credits.spend(user_id, price.total, key=key, metadata=metadata)
        except InsufficientCredits as exc:
            raise await self._out_of_credits(user_id, block, price.total, metadata, exc) from None
        assert posting is not None  # a full spend either records or raises
        await self._after_spend(user_id, posting)
        return -posting.transaction.amount if posting.created else 0

    async def charge_duration(
        self,
        *,
        user_id: str,
        graph_exec_id: str,
        node_exec_id: str,
        block: Block[Any],
        input_data: Mapping[str, Any],
        seconds: float,
        charge_key: str | None = None,
    ) -> int:
        """Charge a finished run's per-second cost as its own USAGE entry; return credits.

        The work is already done, so when the balance cannot cover it the remaining balance
        is taken (the entry says ``capped``) and a zero-balance notification is recorded.
        """
        if not self.enabled:
            return 0
        price = self.price(block, input_data)
        amount = duration_amount(price.cost, seconds)
        if amount <= 0:
            return 0
        metadata = {
            "reason": "node run time",
            "graph_exec_id": graph_exec_id,
            "node_exec_id": node_exec_id,
            "block_id": block.id,
            "block_name": block.name,
            "cost_type": BlockCostType.SECOND.value,
            "seconds": round(seconds, 3),
        }
        posting = await self.db.credits.spend(
            user_id,
            amount,
            key=f"usage-time:{charge_key or node_exec_id}",
            metadata=metadata,
            partial=True,
        )
        if posting is None or posting.transaction.metadata.get("capped"):
            await self._notify(
                user_id, NotificationType.ZERO_BALANCE, {**metadata, "required": amount}
            )
        if posting is None:
            return 0
        await self._after_spend(user_id, posting)
        return -posting.transaction.amount if posting.created else 0

    async def _out_of_credits(
        self,
        user_id: str,
        block: Block[Any],
        required: int,
        metadata: dict[str, Any],
        exc: InsufficientCredits,
    ) -> InsufficientCredits:
        balance = await self.db.credits.balance(user_id)
        log.info("credits.insufficient", user_id=user_id, required=required, balance=balance)
        await self._notify(
            user_id,
            NotificationType.ZERO_BALANCE,
            {**metadata, "required": required, "balance": balance},
        )
        return InsufficientCredits(
            f"insufficient credits to run {block.name}: {required} needed, balance is {balance}",
            details=[{"required": required, "balance": balance, "block_id": block.id}],
        )

    async def _after_spend(self, user_id: str, posting: Posting) -> None:
        if not posting.created:
            return
        entry = posting.transaction
        log.info(
            "credits.charged", user_id=user_id, amount=-entry.amount, balance=entry.running_balance
        )
        threshold = self.settings.low_balance_threshold
        if posting.balance_before >= threshold > entry.running_balance:
            await self._notify(
                user_id,
                NotificationType.LOW_BALANCE,
                {"balance": entry.running_balance, "threshold": threshold},
            )

    async def _notify(self, user_id: str, type: NotificationType, data: dict[str, Any]) -> None:
        log.info("credits.notified", user_id=user_id, type=type.value)
        if self.notifier is not None:
            await self.notifier.notify(user_id, type.value, data)
        else:
            await self.db.notifications.add(user_id, type.value, data)

    # --- operations ---------------------------------------------------------------------

    async def add_credits(
        self,
        user_id: str,
        amount: int,
        *,
        type: TransactionType = TransactionType.GRANT,
        reason: str = "",
        key: str | None = None,
        by: str | None = None,
    ) -> Posting:
        """Top up or grant credits (admin); ``key`` makes the call safe to repeat."""
        if type not in (TransactionType.GRANT, TransactionType.TOP_UP):
            raise Conflict(f"{type.value} is not a top-up or grant")
        metadata: dict[str, Any] = {"reason": reason}
        if by is not None:
            metadata["by"] = by
        posting = await self.db.credits.deposit(
            user_id,
            amount,
            type=type,
            key=key or f"{type.value.lower()}:{uuid.uuid4()}",
            metadata=metadata,
        )
        if posting.created:
            log.info("credits.added", user_id=user_id, type=type.value, amount=amount)
            if self.notifier is not None:
                await self.notifier.balance_restored(user_id)
        return posting

    async def refund(
        self, transaction_id: str, *, reason: str = "", by: str | None = None
    ) -> Posting:
        """Give back a usage entry's credits (once: a second refund returns the first)."""
        entry = await self.db.credits.get(transaction_id)
        if entry is None:
            raise NotFound(f"transaction {transaction_id} does not exist")
        if entry.type is not TransactionType.USAGE:
            raise Conflict(f"only usage transactions can be refunded, not {entry.type.value}")
        metadata: dict[str, Any] = {
            "reason": reason,
            "refunded_transaction_id": entry.id,
            **{
                k: entry.metadata[k]
                for k in ("graph_exec_id", "node_exec_id")
                if k in entry.metadata
            },
        }
        if by is not None:
            metadata["by"] = by
        posting = await self.db.credits.deposit(
            entry.user_id,
            -entry.amount,
            type=TransactionType.REFUND,
            key=f"refund:{entry.id}",
            metadata=metadata,
        )
        if posting.created:
            log.info("credits.refunded", user_id=entry.user_id, amount=-entry.amount)
        return posting
