"""Data methods for worker records: one row per process start, never reused.

A record says a process claimed runs under its id; ``stopped_at`` says it is gone (it
stopped, or another process found its liveness lock free and buried it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, delete, select, update

from autoplat.db.models import Worker
from autoplat.db.rows import WorkerRow
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

WORKERS: Table = cast(Table, Worker.__table__)
#: Records of stopped processes are kept this long (for the operator), then deleted.
KEEP_STOPPED = timedelta(days=1)


class WorkerStore:
    """Data methods for worker records."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def register(self, row: WorkerRow) -> None:
        """Record a starting process (and forget records of long-stopped ones)."""
        async with self.db.begin() as conn:
            await conn.execute(
                delete(WORKERS).where(WORKERS.c.stopped_at < utcnow() - KEEP_STOPPED)
            )
            await conn.execute(WORKERS.insert(), [row.as_dict()])

    async def live_others(self, worker_id: str) -> list[WorkerRow]:
        """Records of other processes not known to have stopped."""
        stmt = select(WORKERS).where(WORKERS.c.stopped_at.is_(None), WORKERS.c.id != worker_id)
        async with self.db.engine.connect() as conn:
            return [WorkerRow.from_row(r) for r in await conn.execute(stmt)]

    async def mark_stopped(self, worker_ids: list[str]) -> None:
        """Say these processes are gone."""
        if not worker_ids:
            return
        async with self.db.begin() as conn:
            await conn.execute(
                update(WORKERS)
                .where(WORKERS.c.id.in_(sorted(worker_ids)), WORKERS.c.stopped_at.is_(None))
                .values(stopped_at=utcnow())
            )
