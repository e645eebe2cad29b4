"""Data methods for schedules and their fires."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Executable, Row, Select, Table, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.bulk import bulk_insert
from autoplat.db.models import GraphExecution, NodeExecution, Schedule, ScheduleFire
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"
#: Why a schedule of a deleted preset was paused.
PRESET_DELETED = "its preset was deleted (its last inputs were kept, not its credentials)"

_SCHEDULES = cast(Table, Schedule.__table__)
_FIRES = cast(Table, ScheduleFire.__table__)
_RUNS = cast(Table, GraphExecution.__table__)
_NODES = cast(Table, NodeExecution.__table__)


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A schedule row as the scheduler and the API see it (``last_fire_at`` from its fires)."""

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
    fires_from: datetime
    last_fire_at: datetime | None
    created_at: datetime
    updated_at: datetime
    #: The preset each fire reads its inputs and credentials from (``inputs`` override).
    preset_id: str | None = None
    #: The schedule's own credential references (never secrets); a fire's credentials are
    #: these over the preset's, field by field.
    credentials_inputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Row[Any]) -> ScheduleRecord:
        """Build from a row of :func:`_select_schedules`."""
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
    """What became of a fire: the run it created, or why none was created."""

    schedule_id: str
    fire_time: datetime
    status: str
    graph_exec_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """Which fires a claim inserted, and which schedules were no longer active."""

    claimed: set[tuple[str, datetime]]
    inactive: set[str]


def _select_schedules() -> Select[Any]:
    """Schedules with the time of their latest recorded fire (one index probe each)."""
    last_fire = (
        select(func.max(_FIRES.c.fire_time))
        .where(_FIRES.c.schedule_id == _SCHEDULES.c.id)
        .scalar_subquery()
    )
    return select(_SCHEDULES, last_fire.label("last_fire_at"))


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
        fires_from: datetime,
        preset_id: str | None = None,
        credentials_inputs: dict[str, Any] | None = None,
    ) -> ScheduleRecord:
        """Store a new active schedule owing fires from ``fires_from`` on."""
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
            preset_id=preset_id,
            credentials_inputs=dict(credentials_inputs or {}),
            status=ACTIVE,
            paused_reason=None,
            fires_from=fires_from,
            last_fire_at=None,
            created_at=now,
            updated_at=now,
        )
        values = {n: getattr(record, n) for n in ScheduleRecord.__slots__ if n != "last_fire_at"}
        async with self.db.begin() as conn:
            await conn.execute(_SCHEDULES.insert().values(**values))
        return record

    async def get(self, schedule_id: str, *, user_id: str | None = None) -> ScheduleRecord | None:
        """One schedule, optionally only if ``user_id`` owns it."""
        stmt = _select_schedules().where(_SCHEDULES.c.id == schedule_id)
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
            _select_schedules()
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
        fires_from: datetime | None = None,
    ) -> ScheduleRecord | None:
        """Pause or resume a schedule; None when there is no such schedule."""
        values: dict[str, Any] = {"status": status, "paused_reason": reason, "updated_at": utcnow()}
        if fires_from is not None:
            values["fires_from"] = fires_from
        stmt = update(_SCHEDULES).where(_SCHEDULES.c.id == schedule_id).values(**values)
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

    async def load(self, *, changed_since: datetime | None = None) -> list[ScheduleRecord]:
        """Every active schedule, or every schedule (any status) changed since a time."""
        stmt = _select_schedules()
        if changed_since is None:
            stmt = stmt.where(_SCHEDULES.c.status == ACTIVE)
        else:
            stmt = stmt.where(_SCHEDULES.c.updated_at >= changed_since)
        async with self.db.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return [ScheduleRecord.from_row(r) for r in rows]

    async def claim_fires(self, conn: AsyncConnection, fires: Sequence[FireOutcome]) -> Claim:
        """Insert the fire rows of still-active schedules; return the keys this call inserted.

        The (schedule, fire time) key is what makes a fire happen once across processes and
        restarts: only the inserter goes on to write the fire's run, in the same transaction.
        Fires of schedules paused or deleted meanwhile are not inserted.
        """
        if not fires:
            return Claim(set(), set())
        wanted = {f.schedule_id for f in fires}
        active = await self._active_ids(conn, sorted(wanted))
        now = utcnow()
        params = [
            {
                "schedule_id": f.schedule_id,
                "fire_time": f.fire_time,
                "status": f.status,
                "graph_exec_id": f.graph_exec_id,
                "error": f.error[:2000] if f.error else None,
                "created_at": now,
            }
            # One lock order everywhere: two processes claiming the same tick cannot deadlock.
            for f in sorted(fires, key=lambda f: (f.schedule_id, f.fire_time))
            if f.schedule_id in active
        ]
        rows = await bulk_insert(
            conn,
            _FIRES,
            params,
            conflict_keys=("schedule_id", "fire_time"),
            returning=("schedule_id", "fire_time"),
        )
        return Claim({(r.schedule_id, r.fire_time) for r in rows}, wanted - active)

    async def _active_ids(self, conn: AsyncConnection, ids: list[str]) -> set[str]:
        stmt: Executable
        if conn.dialect.name == "postgresql":  # one array parameter instead of thousands
            stmt = text(
                "SELECT id FROM schedules WHERE id = ANY(CAST(:ids AS VARCHAR[])) "
                "AND status = :active"
            ).bindparams(ids=ids, active=ACTIVE)
        else:
            stmt = select(_SCHEDULES.c.id).where(
                _SCHEDULES.c.id.in_(ids), _SCHEDULES.c.status == ACTIVE
            )
        return set((await conn.execute(stmt)).scalars())

    async def pause_broken(self, conn: AsyncConnection, schedule_id: str, reason: str) -> None:
        """Pause a schedule that cannot run any more, recording why."""
        await conn.execute(
            update(_SCHEDULES)
            .where(_SCHEDULES.c.id == schedule_id)
            .values(status=PAUSED, paused_reason=reason, updated_at=utcnow())
        )

    async def detach_preset(
        self, conn: AsyncConnection, preset_id: str, user_id: str, inputs: dict[str, Any]
    ) -> int:
        """Pause the user's schedules that read a preset about to be deleted.

        Each keeps the preset's last inputs under its own overrides and points at no preset
        any more; ``updated_at`` moves, so every scheduler reloads it. Returns how many.
        """
        rows = (
            await conn.execute(
                select(_SCHEDULES.c.id, _SCHEDULES.c.inputs).where(
                    _SCHEDULES.c.preset_id == preset_id, _SCHEDULES.c.user_id == user_id
                )
            )
        ).all()
        now = utcnow()
        for row in rows:
            await conn.execute(
                update(_SCHEDULES)
                .where(_SCHEDULES.c.id == row.id)
                .values(
                    inputs={**inputs, **dict(row.inputs or {})},
                    preset_id=None,
                    status=PAUSED,
                    paused_reason=PRESET_DELETED,
                    updated_at=now,
                )
            )
        return len(rows)

    async def prune_fires(self, before: datetime) -> int:
        """Delete fire records older than ``before``, keeping each schedule's latest one.

        The latest fire is the schedule's anchor after downtime (see the timetable).
        """
        newer = _FIRES.alias("newer")
        has_newer = (
            select(newer.c.fire_time)
            .where(
                newer.c.schedule_id == _FIRES.c.schedule_id,
                newer.c.fire_time > _FIRES.c.fire_time,
            )
            .exists()
        )
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(_FIRES).where(_FIRES.c.fire_time < before, has_newer)
            )
        return int(getattr(result, "rowcount", 0) or 0)
