"""Data methods of the system jobs: their state rows, stuck-run checks and retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from autoplat.db.models import GraphExecution, SystemJob

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

_JOBS = cast(Table, SystemJob.__table__)
_RUNS = cast(Table, GraphExecution.__table__)
TERMINAL = ("COMPLETED", "FAILED", "TERMINATED")


@dataclass(frozen=True, slots=True)
class SystemJobRecord:
    """The last run and outcome of one system job."""

    name: str
    last_run_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StuckRuns:
    """Runs found stuck by the monitor (ids, capped) and the runs it released."""

    queued: list[str]
    running: list[str]
    released: list[str]


class SystemJobStore:
    """Data methods of the system jobs."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def try_start(self, name: str, now: datetime, min_gap: float) -> bool:
        """Take this tick of job ``name``; False if another process ran it within ``min_gap``."""
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        async with self.db.begin() as conn:
            await conn.execute(
                insert(_JOBS)
                .values(name=name, details={})
                .on_conflict_do_nothing(index_elements=["name"])
            )
            result = await conn.execute(
                update(_JOBS)
                .where(
                    _JOBS.c.name == name,
                    or_(
                        _JOBS.c.last_run_at.is_(None),
                        _JOBS.c.last_run_at <= now - timedelta(seconds=min_gap),
                    ),
                )
                .values(last_run_at=now, last_outcome="running", last_error=None)
            )
        return bool(getattr(result, "rowcount", 0))

    async def finish(
        self, name: str, outcome: str, *, error: str | None = None, details: dict[str, Any]
    ) -> None:
        """Record how a run of job ``name`` ended."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(_JOBS)
                .where(_JOBS.c.name == name)
                .values(last_outcome=outcome, last_error=error, details=details)
            )

    async def list_jobs(self) -> list[SystemJobRecord]:
        """Every system job that has run at least once, by name."""
        async with self.db.begin() as conn:
            rows = (await conn.execute(select(_JOBS).order_by(_JOBS.c.name))).all()
        return [
            SystemJobRecord(r.name, r.last_run_at, r.last_outcome, r.last_error, r.details)
            for r in rows
        ]

    async def find_stuck(self, now: datetime, stuck_after: float, *, limit: int = 100) -> StuckRuns:
        """Runs queued or running too long, and release RUNNING runs whose lease lapsed.

        A released run keeps its status and lapsed lease (the executor claims those again
        and resumes them) but loses its owner, so it is visibly up for grabs.
        """
        cutoff = now - timedelta(seconds=stuck_after)
        async with self.db.begin() as conn:
            queued = (
                (
                    await conn.execute(
                        select(_RUNS.c.id)
                        .where(_RUNS.c.status == "QUEUED", _RUNS.c.created_at < cutoff)
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            running = (
                (
                    await conn.execute(
                        select(_RUNS.c.id)
                        .where(
                            _RUNS.c.status == "RUNNING",
                            or_(_RUNS.c.started_at < cutoff, _RUNS.c.started_at.is_(None)),
                            _RUNS.c.created_at < cutoff,
                        )
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            lapsed = (
                (
                    await conn.execute(
                        select(_RUNS.c.id)
                        .where(
                            _RUNS.c.status == "RUNNING",
                            _RUNS.c.lease_owner.is_not(None),
                            _RUNS.c.lease_expires_at < now,
                        )
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            if lapsed:
                await conn.execute(
                    update(_RUNS)
                    .where(
                        _RUNS.c.id.in_(list(lapsed)),
                        _RUNS.c.status == "RUNNING",
                        _RUNS.c.lease_expires_at < now,
                    )
                    .values(lease_owner=None, updated_at=now)
                )
        return StuckRuns(list(queued), list(running), list(lapsed))

    async def delete_old_runs(self, before: datetime, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` finished runs (with their node executions) that ended before."""
        async with self.db.begin() as conn:
            ids = (
                (
                    await conn.execute(
                        select(_RUNS.c.id)
                        .where(
                            _RUNS.c.status.in_(TERMINAL),
                            or_(
                                _RUNS.c.ended_at < before,
                                _RUNS.c.ended_at.is_(None) & (_RUNS.c.created_at < before),
                            ),
                        )
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                # Node executions go with their run (ON DELETE CASCADE on both databases).
                await conn.execute(delete(_RUNS).where(_RUNS.c.id.in_(list(ids))))
        return len(ids)
