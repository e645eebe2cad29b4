"""Summary data of a user's period (DatabaseManager's summary-data method) and alert data.

Invariant: read-only; a period is ``[start, end)`` on the run's creation time, top-level
runs only (a sub-agent's run is part of its parent's), so a run counts in exactly one
period and one user's figures never include another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, case, func, select

from autoplat.db.models import CreditTransaction, GraphExecution, GraphVersion, NodeExecution

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

RUNS = cast(Table, GraphExecution.__table__)
NODES = cast(Table, NodeExecution.__table__)
LEDGER = cast(Table, CreditTransaction.__table__)
GRAPHS = cast(Table, GraphVersion.__table__)


@dataclass(frozen=True, slots=True)
class BlockErrorRate:
    """A block's node runs that ended in a window, and how many failed."""

    block_id: str
    total: int
    failed: int

    @property
    def rate(self) -> float:
        """The failed share."""
        return self.failed / self.total if self.total else 0.0


class SummaryStore:
    """Summary and alert data (``db.summaries``)."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    def _period(self, start: datetime, end: datetime) -> Any:
        return and_(
            RUNS.c.created_at >= start,
            RUNS.c.created_at < end,
            RUNS.c.parent_node_exec_id.is_(None),
        )

    async def active_users(self, start: datetime, end: datetime) -> list[str]:
        """Users with at least one run created in the period."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(RUNS.c.user_id).where(self._period(start, end)).distinct()
            )
            return sorted(str(r.user_id) for r in rows)

    async def summary_data(self, user_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Runs, successes, failures, credits spent, most-run agents and longest run."""
        mine = and_(RUNS.c.user_id == user_id, self._period(start, end))
        async with self.db.engine.connect() as conn:
            counts = (
                await conn.execute(
                    select(
                        func.count(),
                        func.sum(case((RUNS.c.status == "COMPLETED", 1), else_=0)),
                        func.sum(case((RUNS.c.status == "FAILED", 1), else_=0)),
                    ).where(mine)
                )
            ).one()
            spent = await conn.scalar(
                select(func.coalesce(func.sum(-LEDGER.c.amount), 0)).where(
                    LEDGER.c.user_id == user_id,
                    LEDGER.c.type == "USAGE",
                    LEDGER.c.created_at >= start,
                    LEDGER.c.created_at < end,
                )
            )
            top = await conn.execute(
                select(RUNS.c.graph_id, func.count().label("runs"))
                .where(mine)
                .group_by(RUNS.c.graph_id)
                .order_by(func.count().desc(), RUNS.c.graph_id)
                .limit(3)
            )
            top_agents = [{"graph_id": r.graph_id, "runs": int(r.runs)} for r in top]
            ended = await conn.execute(
                select(RUNS.c.id, RUNS.c.graph_id, RUNS.c.started_at, RUNS.c.ended_at).where(
                    mine, RUNS.c.started_at.is_not(None), RUNS.c.ended_at.is_not(None)
                )
            )
            longest: dict[str, Any] | None = None
            for r in ended:
                seconds = (r.ended_at - r.started_at).total_seconds()
                if longest is None or seconds > longest["seconds"]:
                    longest = {"graph_exec_id": r.id, "graph_id": r.graph_id, "seconds": seconds}
            names = await self._names(conn, [a["graph_id"] for a in top_agents])
        for agent in top_agents:
            agent["graph_name"] = names.get(agent["graph_id"])
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "runs": int(counts[0] or 0),
            "successes": int(counts[1] or 0),
            "failures": int(counts[2] or 0),
            "credits_spent": int(spent or 0),
            "top_agents": top_agents,
            "longest_run": longest,
        }

    async def _names(self, conn: Any, graph_ids: list[str]) -> dict[str, str]:
        if not graph_ids:
            return {}
        rows = await conn.execute(
            select(GRAPHS.c.id, GRAPHS.c.name)
            .where(GRAPHS.c.id.in_(graph_ids))
            .order_by(GRAPHS.c.version)
        )
        return {str(r.id): str(r.name) for r in rows}  # the newest version's name wins

    async def recent_statuses(self, user_id: str, graph_id: str, limit: int) -> list[str]:
        """Statuses of the user's latest top-level ended runs of a graph, newest first."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(RUNS.c.status)
                .where(
                    RUNS.c.user_id == user_id,
                    RUNS.c.graph_id == graph_id,
                    RUNS.c.parent_node_exec_id.is_(None),
                    RUNS.c.ended_at.is_not(None),
                )
                .order_by(RUNS.c.ended_at.desc(), RUNS.c.id.desc())
                .limit(limit)
            )
            return [str(r.status) for r in rows]

    # --- operator alerts ----------------------------------------------------------------

    async def late_runs(
        self, queued_before: datetime, running_before: datetime, limit: int = 50
    ) -> dict[str, list[str]]:
        """Runs still QUEUED since before ``queued_before`` or RUNNING since ``running_before``."""
        async with self.db.engine.connect() as conn:
            queued = await conn.execute(
                select(RUNS.c.id)
                .where(RUNS.c.status == "QUEUED", RUNS.c.created_at < queued_before)
                .order_by(RUNS.c.created_at)
                .limit(limit)
            )
            running = await conn.execute(
                select(RUNS.c.id)
                .where(RUNS.c.status == "RUNNING", RUNS.c.started_at < running_before)
                .order_by(RUNS.c.started_at)
                .limit(limit)
            )
            return {"queued": [r.id for r in queued], "running": [r.id for r in running]}

    async def block_error_rates(self, since: datetime) -> list[BlockErrorRate]:
        """Per block: node runs that ended since ``since`` and how many FAILED."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    NODES.c.block_id,
                    func.count().label("total"),
                    func.sum(case((NODES.c.status == "FAILED", 1), else_=0)).label("failed"),
                )
                .where(NODES.c.ended_at >= since)
                .group_by(NODES.c.block_id)
            )
            return [BlockErrorRate(str(r.block_id), int(r.total), int(r.failed or 0)) for r in rows]
