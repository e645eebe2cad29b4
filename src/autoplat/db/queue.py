"""The durable queue's hot statements, one class per dialect behind one interface.

Submit, claim, and the fenced write (a flush, or a bare lease renewal) are the only
statements on the hot path. Their column lists come from the ``Table`` objects, so a new
column cannot be forgotten here.

Invariants every dialect keeps:
- a write is fenced by owner AND epoch (the run's claim count, ``attempts``): a process
  that lost a run, or an older instance of a run this process claimed again, writes nothing;
- multi-row writes of runs lock them in id order (PostgreSQL), or run under SQLite's single
  writer, so two writers can never deadlock;
- node rows are written only for runs the same statement (or transaction) fenced.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.models import GraphExecution, NodeExecution
from autoplat.db.rows import NodeRow, NodeWrite, RunRow, RunWrite
from autoplat.db.types import UTCDateTime, utcnow

RUNS: Table = cast(Table, GraphExecution.__table__)
NODES: Table = cast(Table, NodeExecution.__table__)
RUN_COLUMNS: tuple[str, ...] = tuple(c.name for c in RUNS.columns)
NODE_COLUMNS: tuple[str, ...] = tuple(c.name for c in NODES.columns)
#: Node columns an upsert changes (identity and creation time never change).
NODE_CHANGING: tuple[str, ...] = tuple(
    c for c in NODE_COLUMNS if c not in ("id", "graph_exec_id", "created_at")
)
#: Run columns a flush may change, as carried by RunWrite.
RUN_UPDATE_COLUMNS: tuple[str, ...] = ("status", "outputs", "stats", "error", "ended_at")
QUEUE_CHANNEL = "autoplat_queue"

#: id -> stop_requested of the runs a fenced write still held.
Held = dict[str, bool]
#: Decides, inside the submit transaction, which runs the caller starts at once.
Starter = Callable[[dict[str, int]], None]


class Queue:
    """The hot statements; ``for_dialect`` picks the implementation."""

    @staticmethod
    def for_dialect(name: str) -> Queue:
        """The queue statements of dialect ``name``."""
        return PgQueue() if name == "postgresql" else SqliteQueue()

    # --- submit --------------------------------------------------------------------------

    async def submit(
        self,
        conn: AsyncConnection,
        runs: Sequence[RunRow],
        nodes: Sequence[NodeRow],
        *,
        start: Starter | None,
        user_cap: int | None,
    ) -> set[str]:
        """Insert runs and their first nodes; return ids of RUNNING runs written QUEUED.

        ``start(running)`` may mark runs RUNNING (held by the caller) given the number of
        running top-level runs of each submitting user; a run so marked whose user is
        already at ``user_cap`` is written QUEUED instead, and its id returned.
        """
        if start is not None:
            start(await self._running_counts(conn, {r.user_id for r in runs}))
        await conn.execute(RUNS.insert(), [r.as_dict() for r in runs])
        if nodes:
            await conn.execute(NODES.insert(), [n.as_dict() for n in nodes])
        await self._wake_claimers(conn, any(r.status == "QUEUED" for r in runs))
        return set()

    async def _running_counts(self, conn: AsyncConnection, users: set[str]) -> dict[str, int]:
        stmt = (
            select(RUNS.c.user_id, func.count())
            .where(
                RUNS.c.user_id.in_(sorted(users)),
                RUNS.c.status == "RUNNING",
                RUNS.c.parent_node_exec_id.is_(None),
                RUNS.c.lease_expires_at >= utcnow(),
            )
            .group_by(RUNS.c.user_id)
        )
        return {user: int(n) for user, n in await conn.execute(stmt)}

    async def _wake_claimers(self, conn: AsyncConnection, queued: bool) -> None:
        """Tell other processes runs were queued (PostgreSQL: NOTIFY at commit)."""

    # --- claim ---------------------------------------------------------------------------

    async def claim(
        self,
        conn: AsyncConnection,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        user_cap: int,
        only: Sequence[str] | None = None,
    ) -> tuple[list[RunRow], dict[str, list[NodeRow]]]:
        """Take up to ``limit`` runnable top-level runs under a lease (``only``: these ids).

        Runnable: QUEUED, or RUNNING with a lapsed lease (its holder stopped renewing).
        A user's runs are taken only while fewer than ``user_cap`` of them run. Returns the
        claimed runs and, for those claimed the first time, their node executions.
        """
        now = utcnow()
        params: dict[str, Any] = {
            "now": now,
            "expires": now + timedelta(seconds=lease_seconds),
            "owner": owner,
            "scan": max(64, limit * 4),
            "cap": user_cap,
            "limit": limit,
        }
        if only is not None:
            params["only"] = list(only)
        stmt = _claim_statement(only is not None)
        runs = [RunRow.from_row(r) for r in await conn.execute(stmt, params)]
        fresh = [r.id for r in runs if r.attempts == 1]
        nodes: dict[str, list[NodeRow]] = {run_id: [] for run_id in fresh}
        if fresh:
            rows = await conn.execute(
                select(NODES).where(NODES.c.graph_exec_id.in_(fresh)).order_by(NODES.c.seq)
            )
            for row in rows:
                nodes[row.graph_exec_id].append(NodeRow.from_row(row))
        return runs, nodes

    # --- the fenced write ----------------------------------------------------------------

    async def write(
        self,
        conn: AsyncConnection,
        owner: str,
        *,
        lease_seconds: float,
        fences: Sequence[tuple[str, int]],
        nodes: Sequence[NodeWrite],
        runs: Sequence[RunWrite],
    ) -> Held:
        """Extend the leases of ``fences`` (run id, epoch) still held by ``owner`` and write
        the node rows and run updates of those runs; return the runs still held."""
        raise NotImplementedError

    async def expire(
        self, conn: AsyncConnection, owners: Sequence[str], ids: Sequence[str] | None
    ) -> int:
        """Let runs held by ``owners`` (only ``ids``, when given) be claimed at once."""
        where = [RUNS.c.lease_owner.in_(list(owners)), RUNS.c.status == "RUNNING"]
        if ids is not None:
            where.append(RUNS.c.id.in_(list(ids)))
        locked = select(RUNS.c.id).where(*where).order_by(RUNS.c.id)
        if conn.dialect.name == "postgresql":
            locked = locked.with_for_update()
        result = await conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_(locked.scalar_subquery()))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        count = int(result.rowcount or 0)
        await self._wake_claimers(conn, count > 0)
        return count


class SqliteQueue(Queue):
    """SQLite: one writer at a time (BEGIN IMMEDIATE), so statements never wait on locks."""

    def __init__(self) -> None:
        self._fence = (
            update(RUNS)
            .where(
                tuple_(RUNS.c.id, RUNS.c.attempts).in_(bindparam("fences", expanding=True)),
                RUNS.c.lease_owner == bindparam("owner"),
            )
            .values(lease_expires_at=bindparam("expires", type_=UTCDateTime()))
            .returning(RUNS.c.id, RUNS.c.stop_requested)
        )
        # JSON documents arrive encoded (NodeWrite, RunWrite): bound as text, stored as is.
        insert = sqlite.insert(NODES).values({c: _bind(NODES, c) for c in NODE_COLUMNS})
        self._upsert = insert.on_conflict_do_update(
            index_elements=[NODES.c.id], set_={c: insert.excluded[c] for c in NODE_CHANGING}
        )
        self._run_update = (
            update(RUNS)
            .where(RUNS.c.id == bindparam("b_id"))
            .values({c: _bind(RUNS, c) for c in (*RUN_UPDATE_COLUMNS, "updated_at")})
        )

    async def write(
        self,
        conn: AsyncConnection,
        owner: str,
        *,
        lease_seconds: float,
        fences: Sequence[tuple[str, int]],
        nodes: Sequence[NodeWrite],
        runs: Sequence[RunWrite],
    ) -> Held:
        if not fences:
            return {}
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        params = {"fences": [tuple(f) for f in fences], "owner": owner, "expires": expires}
        held = {r.id: bool(r.stop_requested) for r in await conn.execute(self._fence, params)}
        node_rows = [_fields(n) for n in nodes if n.graph_exec_id in held]
        if node_rows:
            await conn.execute(self._upsert, node_rows)
        run_rows = [{"b_id": r.id, "updated_at": now, **_fields(r)} for r in runs if r.id in held]
        if run_rows:
            await conn.execute(self._run_update, run_rows)
        return held


class PgQueue(Queue):
    """PostgreSQL: submit and write are each ONE autocommitted statement (one round trip).

    Rows travel as one JSON document that ``jsonb_to_recordset`` turns back into typed
    rows; the record definitions are compiled from the tables' column types.
    """

    def __init__(self) -> None:
        self._write = _pg_write_statement()
        self._submit = _pg_submit_statement()

    async def submit(
        self,
        conn: AsyncConnection,
        runs: Sequence[RunRow],
        nodes: Sequence[NodeRow],
        *,
        start: Starter | None,
        user_cap: int | None,
    ) -> set[str]:
        # The statement applies the committed running counts itself: ``start`` sees none.
        if start is not None:
            start({})
        params = {
            "runs": encode([{"ord": i, **r.as_dict()} for i, r in enumerate(runs)]),
            "nodes": encode([n.as_dict() for n in nodes]),
            "now": utcnow(),
            "cap": user_cap if user_cap is not None else 2**31 - 1,
            "channel": QUEUE_CHANNEL,
        }
        written = {r.id: r.status for r in await conn.execute(self._submit, params)}
        return {r.id for r in runs if r.status == "RUNNING" and written.get(r.id) != "RUNNING"}

    async def _wake_claimers(self, conn: AsyncConnection, queued: bool) -> None:
        if queued:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})

    async def write(
        self,
        conn: AsyncConnection,
        owner: str,
        *,
        lease_seconds: float,
        fences: Sequence[tuple[str, int]],
        nodes: Sequence[NodeWrite],
        runs: Sequence[RunWrite],
    ) -> Held:
        if not fences:
            return {}
        now = utcnow()
        params = {
            "ids": [run_id for run_id, _ in fences],
            "epochs": [epoch for _, epoch in fences],
            "owner": owner,
            "expires": now + timedelta(seconds=lease_seconds),
            "now": now,
            "runs": _documents(runs, RUN_JSON),
            # Sorted by id: concurrent upserts take their row locks in one order.
            "nodes": _documents(sorted(nodes, key=lambda n: n.id), NODE_JSON),
        }
        return {r.id: bool(r.stop_requested) for r in await conn.execute(self._write, params)}


#: The columns NodeWrite and RunWrite carry as encoded JSON text.
NODE_JSON = ("input_data", "output_data", "stats")
RUN_JSON = ("outputs", "stats")


def _bind(table: Table, column: str) -> Any:
    """A bind parameter of the column's type, or text for a JSON document sent encoded."""
    encoded = column in (NODE_JSON if table is NODES else RUN_JSON)
    return bindparam(column, type_=Text() if encoded else table.c[column].type)


def _fields(write: NodeWrite | RunWrite) -> dict[str, Any]:
    return {f: getattr(write, f) for f in write.__slots__}


def _documents(writes: Sequence[NodeWrite | RunWrite], encoded: tuple[str, ...]) -> str:
    """One JSON array of the rows, splicing in the documents that are already JSON text."""
    parts = []
    for write in writes:
        plain = {f: getattr(write, f) for f in write.__slots__ if f not in encoded}
        head = json.dumps(plain, default=_plain)
        tail = "".join(f',"{f}":{getattr(write, f)}' for f in encoded)
        parts.append(head[:-1] + tail + "}")
    return "[" + ",".join(parts) + "]"


def encode(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as one JSON array; timestamps in ISO 8601 with their offset."""
    return json.dumps(rows, default=_plain, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__}")


def _record(table: Table, columns: Sequence[str]) -> str:
    """A ``jsonb_to_recordset`` column definition list for ``columns`` of ``table``."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # stubs lack it
    return ", ".join(f"{c} {table.c[c].type.compile(dialect=dialect)}" for c in columns)


@functools.cache
def _claim_statement(only: bool) -> Any:  # built once: compiling costs more than running
    """The claim: lock runnable rows (skipping locked ones), apply the per-user cap, lease."""
    now = bindparam("now", type_=UTCDateTime())
    runnable = and_(
        RUNS.c.parent_node_exec_id.is_(None),
        or_(
            RUNS.c.status == "QUEUED",
            and_(RUNS.c.status == "RUNNING", RUNS.c.lease_expires_at < now),
        ),
    )
    if only:
        runnable = and_(runnable, RUNS.c.id.in_(bindparam("only", expanding=True)))
    locked = (
        select(RUNS.c.id, RUNS.c.user_id, RUNS.c.created_at)
        .where(runnable)
        .order_by(RUNS.c.created_at)
        .limit(bindparam("scan"))
        .with_for_update(skip_locked=True)
        .cte("locked")
    )
    running = (
        select(RUNS.c.user_id, func.count().label("n"))
        .where(
            RUNS.c.status == "RUNNING",
            RUNS.c.parent_node_exec_id.is_(None),
            RUNS.c.lease_expires_at >= now,
        )
        .group_by(RUNS.c.user_id)
        .cte("running")
    )
    slot = func.row_number().over(
        partition_by=locked.c.user_id, order_by=locked.c.created_at
    ) + func.coalesce(running.c.n, 0)
    ranked = (
        select(locked.c.id, locked.c.created_at, slot.label("slot"))
        .select_from(locked.outerjoin(running, running.c.user_id == locked.c.user_id))
        .cte("ranked")
    )
    picked = (
        select(ranked.c.id)
        .where(ranked.c.slot <= bindparam("cap"))
        .order_by(ranked.c.created_at)
        .limit(bindparam("limit"))
    )
    return (
        update(RUNS)
        .where(RUNS.c.id.in_(picked))
        .values(
            status="RUNNING",
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("expires", type_=UTCDateTime()),
            started_at=func.coalesce(RUNS.c.started_at, now),
            attempts=RUNS.c.attempts + 1,
            updated_at=now,
        )
        .returning(*RUNS.columns)
    )


def _pg_write_statement() -> TextClause:
    """Fence the leases of ``:ids``/``:epochs``, write run updates and node rows.

    The runs are locked first, in id order, by one ``FOR UPDATE`` (so this statement and a
    concurrent one of this or another process cannot deadlock); the fence and the run
    updates are one UPDATE (a statement may change a row only once); node rows of runs the
    fence did not return are dropped. Returns ``id, stop_requested`` of the held runs.
    """
    cols = ", ".join(NODE_COLUMNS)
    upsert_set = ", ".join(f"{c} = excluded.{c}" for c in NODE_CHANGING)
    run_sets = ",\n".join(
        f"{c} = CASE WHEN v.id IS NULL THEN g.{c} ELSE v.{c} END" for c in RUN_UPDATE_COLUMNS
    )
    return text(
        f"""
        WITH f AS (
            SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:epochs AS integer[]))
                AS f(id, epoch)
        ), locked AS MATERIALIZED (
            SELECT g.id FROM graph_executions AS g JOIN f ON g.id = f.id
            WHERE g.attempts = f.epoch AND g.lease_owner = :owner
            ORDER BY g.id
            FOR UPDATE OF g
        ), v AS (
            SELECT * FROM jsonb_to_recordset(CAST(:runs AS jsonb))
                AS v({_record(RUNS, ("id", *RUN_UPDATE_COLUMNS))})
        ), fence AS (
            UPDATE graph_executions AS g SET
                lease_expires_at = :expires,
                {run_sets},
                updated_at = CASE WHEN v.id IS NULL THEN g.updated_at ELSE :now END
            FROM locked LEFT JOIN v ON v.id = locked.id
            WHERE g.id = locked.id
            RETURNING g.id, g.stop_requested
        ), written AS (
            INSERT INTO node_executions ({cols})
            SELECT {cols}
            FROM jsonb_to_recordset(CAST(:nodes AS jsonb)) AS n({_record(NODES, NODE_COLUMNS)})
            WHERE n.graph_exec_id IN (SELECT id FROM fence)
            ON CONFLICT (id) DO UPDATE SET {upsert_set}
        )
        SELECT id, stop_requested FROM fence
        """
    ).bindparams(
        bindparam("expires", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    )


def _pg_submit_statement() -> TextClause:
    """Insert new runs and their first node executions; returns each run's ``id, status``.

    A run the caller marked RUNNING (to start it at once) stays RUNNING only while its
    user has fewer than ``:cap`` top-level runs running, counting the committed ones and
    those before it in this batch; otherwise it is written QUEUED, unheld. QUEUED runs
    wake the claimers of every process (NOTIFY, delivered at commit).
    """
    run_cols = ", ".join(RUN_COLUMNS)
    node_cols = ", ".join(NODE_COLUMNS)
    demoted = {
        "status": "CASE WHEN demote THEN 'QUEUED' ELSE status END",
        "lease_owner": "CASE WHEN demote THEN NULL ELSE lease_owner END",
        "lease_expires_at": "CASE WHEN demote THEN NULL ELSE lease_expires_at END",
        "attempts": "CASE WHEN demote THEN 0 ELSE attempts END",
        "started_at": "CASE WHEN demote THEN NULL ELSE started_at END",
    }
    selected = ", ".join(demoted.get(c, c) for c in RUN_COLUMNS)
    return text(
        f"""
        WITH v AS (
            SELECT * FROM jsonb_to_recordset(CAST(:runs AS jsonb))
                AS v(ord integer, {_record(RUNS, RUN_COLUMNS)})
        ), running AS (
            SELECT user_id, count(*) AS n FROM graph_executions
            WHERE user_id IN (SELECT user_id FROM v) AND status = 'RUNNING'
                AND parent_node_exec_id IS NULL AND lease_expires_at >= :now
            GROUP BY user_id
        ), ranked AS (
            SELECT v.*, v.status = 'RUNNING' AND v.parent_node_exec_id IS NULL
                AND coalesce(running.n, 0) + row_number() OVER (
                    PARTITION BY v.user_id, v.status = 'RUNNING' ORDER BY v.ord
                ) > :cap AS demote
            FROM v LEFT JOIN running ON running.user_id = v.user_id
        ), runs AS (
            INSERT INTO graph_executions ({run_cols})
            SELECT {selected} FROM ranked
            RETURNING id, status
        ), nodes AS (
            INSERT INTO node_executions ({node_cols})
            SELECT {node_cols}
            FROM jsonb_to_recordset(CAST(:nodes AS jsonb)) AS n({_record(NODES, NODE_COLUMNS)})
        )
        SELECT id, status, (
            SELECT count(*) FROM (
                SELECT pg_notify(:channel, '') FROM runs WHERE status = 'QUEUED' LIMIT 1
            ) AS woken
        ) AS woken
        FROM runs
        """
    ).bindparams(bindparam("now", type_=UTCDateTime()))
