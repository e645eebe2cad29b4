"""Data methods for schedules and their fires."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.models import GraphExecution, Schedule, ScheduleFire
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"

_SCHEDULES = cast(Table, Schedule.__table__)
_FIRES = cast(Table, ScheduleFire.__table__)


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A schedule row as the scheduler and the API see it."""

    id: str
    user_id: str
    graph_id: str
    graph_version: int
    name: str
    cron: str
    timezone: str
    inputs: dict[str, Any]
    status: str
    paused_reason: str | None
    last_fire_at: datetime | None
    next_fire_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> ScheduleRecord:
        """Build from a Core row of the schedules table."""
        return cls(**{name: getattr(row, name) for name in cls.__slots__})


@dataclass(frozen=True, slots=True)
class FireRecord:
    """One recorded fire (or miss) of a schedule."""

    schedule_id: str
    fire_time: datetime
    status: str
    graph_exec_id: str | None
    error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FireOutcome:
    """What became of a claimed fire: the run it created, or why none was created."""

    schedule_id: str
    fire_time: datetime
    status: str
    graph_exec_id: str | None = None
    error: str | None = None


class ScheduleStore:
    """Data methods for schedules and their fires."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    # --- CRUD ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int,
        name: str,
        cron: str,
        timezone: str,
        inputs: dict[str, Any],
        next_fire_at: datetime | None,
    ) -> ScheduleRecord:
        """Store a new active schedule."""
        now = utcnow()
        record = ScheduleRecord(
            id=str(uuid.uuid4()),
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            name=name,
            cron=cron,
            timezone=timezone,
            inputs=inputs,
            status=ACTIVE,
            paused_reason=None,
            last_fire_at=None,
            next_fire_at=next_fire_at,
            created_at=now,
            updated_at=now,
        )
        values = {n: getattr(record, n) for n in ScheduleRecord.__slots__}
        async with self.db.begin() as conn:
            await conn.execute(_SCHEDULES.insert().values(**values))
        return record

    async def get(self, schedule_id: str, *, user_id: str | None = None) -> ScheduleRecord | None:
        """One schedule, optionally only if ``user_id`` owns it."""
        stmt = select(_SCHEDULES).where(_SCHEDULES.c.id == schedule_id)
        if user_id is not None:
            stmt = stmt.where(_SCHEDULES.c.user_id == user_id)
        async with self.db.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return ScheduleRecord.from_row(row) if row is not None else None

    async def list_schedules(
        self, *, user_id: str, graph_id: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[ScheduleRecord], int]:
        """A user's schedules (of one graph, if given), newest first, and the total."""
        where = [_SCHEDULES.c.user_id == user_id]
        if graph_id is not None:
            where.append(_SCHEDULES.c.graph_id == graph_id)
        stmt = (
            select(_SCHEDULES)
            .where(*where)
            .order_by(_SCHEDULES.c.created_at.desc(), _SCHEDULES.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self.db.begin() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(_SCHEDULES).where(*where))
            ).scalar_one()
            rows = (await conn.execute(stmt)).all()
        return [ScheduleRecord.from_row(r) for r in rows], int(total)

    async def delete(self, schedule_id: str, *, user_id: str) -> bool:
        """Delete one of the user's schedules; False when there is no such schedule."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(_SCHEDULES).where(
                    _SCHEDULES.c.id == schedule_id, _SCHEDULES.c.user_id == user_id
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def set_status(
        self,
        schedule_id: str,
        *,
        status: str,
        user_id: str | None = None,
        reason: str | None = None,
        next_fire_at: datetime | None = None,
    ) -> ScheduleRecord | None:
        """Pause or resume a schedule; None when there is no such schedule."""
        stmt = (
            update(_SCHEDULES)
            .where(_SCHEDULES.c.id == schedule_id)
            .values(
                status=status,
                paused_reason=reason,
                next_fire_at=next_fire_at,
                updated_at=utcnow(),
            )
        )
        if user_id is not None:
            stmt = stmt.where(_SCHEDULES.c.user_id == user_id)
        async with self.db.begin() as conn:
            await conn.execute(stmt)
        return await self.get(schedule_id, user_id=user_id)

    async def delete_for_graph(
        self, graph_id: str, *, user_id: str | None = None, conn: AsyncConnection | None = None
    ) -> int:
        """Delete every schedule of a graph (its versions are gone or deactivated)."""
        stmt = delete(_SCHEDULES).where(_SCHEDULES.c.graph_id == graph_id)
        if user_id is not None:
            stmt = stmt.where(_SCHEDULES.c.user_id == user_id)
        if conn is not None:
            result = await conn.execute(stmt)
        else:
            async with self.db.begin() as own:
                result = await own.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def list_fires(self, schedule_id: str, *, limit: int = 100) -> list[FireRecord]:
        """The latest fires and misses of a schedule, newest first."""
        stmt = (
            select(_FIRES)
            .where(_FIRES.c.schedule_id == schedule_id)
            .order_by(_FIRES.c.fire_time.desc())
            .limit(limit)
        )
        async with self.db.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return [FireRecord(**{n: getattr(r, n) for n in FireRecord.__slots__}) for r in rows]

    # --- the scheduler's queries --------------------------------------------------------

    async def load(
        self, *, changed_since: datetime | None = None
    ) -> tuple[list[ScheduleRecord], datetime | None]:
        """Active schedules (all of them), or every schedule changed since a time.

        Returns the rows and the newest ``updated_at`` among them.
        """
        stmt = select(_SCHEDULES)
        if changed_since is None:
            stmt = stmt.where(_SCHEDULES.c.status == ACTIVE)
        else:
            stmt = stmt.where(_SCHEDULES.c.updated_at >= changed_since)
        async with self.db.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        records = [ScheduleRecord.from_row(r) for r in rows]
        newest = max((r.updated_at for r in records), default=None)
        return records, newest

    async def active_among(
        self, conn: AsyncConnection, ids: Sequence[str]
    ) -> dict[str, ScheduleRecord]:
        """The schedules among ``ids`` that still exist and are active."""
        stmt = select(_SCHEDULES).where(_SCHEDULES.c.id.in_(ids), _SCHEDULES.c.status == ACTIVE)
        return {r.id: ScheduleRecord.from_row(r) for r in (await conn.execute(stmt)).all()}

    async def claim_fires(
        self,
        conn: AsyncConnection,
        fires: Sequence[tuple[str, datetime]],
        *,
        status: str = "FIRING",
    ) -> set[tuple[str, datetime]]:
        """Insert fire rows; return the ones this call inserted (the rest existed already).

        The (schedule, fire time) key is what makes a fire happen once across processes and
        restarts: only the inserter goes on to create the run.
        """
        if not fires:
            return set()
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        now = utcnow()
        stmt = (
            insert(_FIRES)
            .on_conflict_do_nothing(index_elements=["schedule_id", "fire_time"])
            .returning(_FIRES.c.schedule_id, _FIRES.c.fire_time)
        )
        params = [
            {"schedule_id": sid, "fire_time": t, "status": status, "created_at": now}
            for sid, t in sorted(fires)  # one lock order everywhere: no deadlocks
        ]
        rows = (await conn.execute(stmt, params)).all()
        return {(r.schedule_id, r.fire_time) for r in rows}

    async def complete_fires(self, conn: AsyncConnection, outcomes: Iterable[FireOutcome]) -> None:
        """Store the run (or error) of each claimed fire."""
        params = [
            {
                "b_sid": o.schedule_id,
                "b_time": o.fire_time,
                "status": o.status,
                "graph_exec_id": o.graph_exec_id,
                "error": o.error,
            }
            for o in outcomes
        ]
        if not params:
            return
        stmt = (
            update(_FIRES)
            .where(
                _FIRES.c.schedule_id == bindparam("b_sid"),
                _FIRES.c.fire_time == bindparam("b_time"),
            )
            .values(
                status=bindparam("status"),
                graph_exec_id=bindparam("graph_exec_id"),
                error=bindparam("error"),
            )
        )
        await conn.execute(stmt, params)

    async def advance(
        self,
        conn: AsyncConnection,
        moves: Iterable[tuple[str, datetime | None, datetime | None]],
    ) -> None:
        """Set ``last_fire_at`` (when given) and ``next_fire_at`` of schedules that fired."""
        groups: dict[tuple[datetime | None, datetime | None], list[str]] = {}
        for sid, last, nxt in moves:
            groups.setdefault((last, nxt), []).append(sid)
        # Schedules sharing a cron share both times: usually one statement per batch.
        for (last, nxt), ids in groups.items():
            values: dict[str, Any] = {"next_fire_at": nxt}
            if last is not None:
                values["last_fire_at"] = last
            stmt = (
                update(_SCHEDULES)
                .where(_SCHEDULES.c.id.in_(sorted(ids)), _SCHEDULES.c.status == ACTIVE)
                .values(**values)
            )
            if nxt is not None:  # a late batch must not move a schedule back in time
                column = _SCHEDULES.c.next_fire_at
                stmt = stmt.where(or_(column.is_(None), column < nxt))
            await conn.execute(stmt)

    async def pause_broken(self, conn: AsyncConnection, schedule_id: str, reason: str) -> None:
        """Pause a schedule that cannot run any more, recording why."""
        await conn.execute(
            update(_SCHEDULES)
            .where(_SCHEDULES.c.id == schedule_id)
            .values(status=PAUSED, paused_reason=reason, next_fire_at=None, updated_at=utcnow())
        )

    async def delete_by_id(self, conn: AsyncConnection, schedule_id: str) -> None:
        """Delete a schedule whose graph is gone."""
        await conn.execute(delete(_SCHEDULES).where(_SCHEDULES.c.id == schedule_id))

    async def interrupted_fires(self, *, limit: int = 1000) -> list[FireRecord]:
        """Fires claimed but never completed (the process stopped between the two)."""
        stmt = select(_FIRES).where(_FIRES.c.status == "FIRING").limit(limit)
        async with self.db.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return [FireRecord(**{n: getattr(r, n) for n in FireRecord.__slots__}) for r in rows]

    async def run_of_fire(self, schedule_id: str, claimed_at: datetime) -> str | None:
        """The run a schedule created at or after ``claimed_at``, if any."""
        runs = cast(Table, GraphExecution.__table__)
        stmt = (
            select(runs.c.id)
            .where(runs.c.schedule_id == schedule_id, runs.c.created_at >= claimed_at)
            .order_by(runs.c.created_at)
            .limit(1)
        )
        async with self.db.begin() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def prune_fires(self, before: datetime, *, limit: int = 5000) -> int:
        """Delete up to ``limit`` fire records older than ``before``; return how many."""
        oldest = (
            select(_FIRES.c.schedule_id, _FIRES.c.fire_time)
            .where(_FIRES.c.fire_time < before)
            .limit(limit)
        )
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(_FIRES).where(tuple_(_FIRES.c.schedule_id, _FIRES.c.fire_time).in_(oldest))
            )
        return int(getattr(result, "rowcount", 0) or 0)
