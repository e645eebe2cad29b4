"""Cluster-wide counts for /metrics: a few cheap aggregate queries, nothing per user."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from autoplat.db.models import CreditTransaction, GraphExecution, NodeExecution, User

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


@dataclass(frozen=True)
class StatsSnapshot:
    """Counts at one moment, as stored in the database (shared by every process)."""

    executions_by_status: dict[str, int] = field(default_factory=dict)
    node_runs_by_status: dict[str, int] = field(default_factory=dict)
    credits_spent: int = 0
    users: int = 0

    @property
    def queue_depth(self) -> int:
        """Graph runs waiting for a worker."""
        return self.executions_by_status.get("QUEUED", 0)


class StatsStore:
    """Aggregate queries for operations dashboards."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def snapshot(self) -> StatsSnapshot:
        """Executions and node runs by status, credits spent on usage, and the user count."""
        runs = select(GraphExecution.status, func.count()).group_by(GraphExecution.status)
        nodes = select(NodeExecution.status, func.count()).group_by(NodeExecution.status)
        spent = select(func.coalesce(func.sum(-CreditTransaction.amount), 0)).where(
            CreditTransaction.type == "USAGE", CreditTransaction.is_active.is_(True)
        )
        async with self.db.begin() as conn:
            by_status = {str(s): int(n) for s, n in (await conn.execute(runs)).all()}
            node_status = {str(s): int(n) for s, n in (await conn.execute(nodes)).all()}
            credits = int((await conn.execute(spent)).scalar_one() or 0)
            users = int((await conn.execute(select(func.count()).select_from(User))).scalar_one())
        return StatsSnapshot(by_status, node_status, credits, users)
