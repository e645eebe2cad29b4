"""Data methods for graph and node executions: the durable queue's SQL (Core, batched)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Row,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autoplat.db import executions_pg as pg
from autoplat.db.models import GraphExecution, NodeExecution
from autoplat.db.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

RUNS: Table = cast(Table, GraphExecution.__table__)
NODES: Table = cast(Table, NodeExecution.__table__)

#: Columns written for a node execution on every flush (the whole row: upserted).
NODE_COLUMNS = (
    "id",
    "graph_exec_id",
    "node_id",
    "block_id",
    "status",
    "seq",
    "input_data",
    "output_data",
    "error",
    "stats",
    "created_at",
    "started_at",
    "ended_at",
)
#: Columns of a run a flush may change.
RUN_UPDATE_COLUMNS = ("status", "outputs", "stats", "error", "ended_at")
CLAIM_COLUMNS = (
    RUNS.c.id,
    RUNS.c.user_id,
    RUNS.c.graph_id,
    RUNS.c.graph_version,
    RUNS.c.inputs,
    RUNS.c.stats,
    RUNS.c.attempts,
    RUNS.c.stop_requested,
    RUNS.c.started_at,
)
QUEUE_CHANNEL = "autoplat_queue"


class ExecutionStore:
    """Data methods for graph and node executions (the durable queue's SQL)."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
        # Built on first use and reused: compiling it costs more than running it.
        self._claim_stmt: Any = None
        self._flush_stmts: dict[str, dict[str, Any]] = {}
        self._flush_pg_stmt: Any = None
        self._submit_pg_stmt: Any = None
        self._autocommit: AsyncEngine | None = None
        self._autocommit_of: AsyncEngine | None = None

    # --- submit --------------------------------------------------------------------------

    async def insert_run(
        self,
        run: Mapping[str, Any],
        nodes: Sequence[Mapping[str, Any]],
        *,
        conn: AsyncConnection | None = None,
    ) -> None:
        """Write a run and its first node executions in one transaction, then NOTIFY."""
        if conn is not None:
            await self._insert_run(conn, run, nodes)
            return
        async with self.db.begin() as own:
            await self._insert_run(own, run, nodes)

    async def insert_runs(
        self,
        runs: Sequence[tuple[dict[str, Any], Sequence[Mapping[str, Any]]]],
        *,
        start: Callable[[dict[str, int]], None] | None = None,
        user_cap: int | None = None,
    ) -> list[dict[str, Any]]:
        """Write several runs with their first node executions in ONE transaction.

        ``start(running)``, called with the number of running top-level runs of each
        submitting user, may turn QUEUED run dicts into RUNNING ones held by the caller (a
        process with free workers starts them without a claim). Returns the runs ``start``
        marked RUNNING that were written QUEUED instead because their user already had
        ``user_cap`` running: the caller must give them back (they stay queued).

        On PostgreSQL with ``user_cap`` this is one statement: ``start`` sees only this
        batch and the statement applies the committed counts.
        """
        if self.db.is_postgres and user_cap is not None:
            return await self._insert_runs_pg(runs, start, user_cap)
        async with self.db.begin() as conn:
            if start is not None:
                users = {run["user_id"] for run, _ in runs}
                start(await self._running_counts(conn, users))
            await self._insert_many(conn, runs)
        return []

    async def _insert_runs_pg(
        self,
        runs: Sequence[tuple[dict[str, Any], Sequence[Mapping[str, Any]]]],
        start: Callable[[dict[str, int]], None] | None,
        user_cap: int,
    ) -> list[dict[str, Any]]:
        if start is not None:
            start({})
        if self._submit_pg_stmt is None:
            self._submit_pg_stmt = pg.submit_statement()
        run_rows = [run for run, _ in runs]
        params = {
            "runs": pg.encode_new_runs(run_rows),
            "nodes": pg.encode_rows([n for _, nodes in runs for n in nodes], NODE_COLUMNS),
            "now": utcnow(),
            "cap": user_cap,
            "channel": QUEUE_CHANNEL,
        }
        async with self.autocommit() as conn:
            written = {r.id: r.status for r in await conn.execute(self._submit_pg_stmt, params)}
        return [run for run in run_rows if run["status"] != written.get(run["id"], run["status"])]

    @staticmethod
    async def _running_counts(conn: AsyncConnection, users: set[str]) -> dict[str, int]:
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

    async def _insert_run(
        self, conn: AsyncConnection, run: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]
    ) -> None:
        await self._insert_many(conn, [(run, nodes)])

    async def _insert_many(
        self,
        conn: AsyncConnection,
        runs: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    ) -> None:
        await conn.execute(RUNS.insert(), [dict(run) for run, _ in runs])
        nodes = [dict(n) for _, run_nodes in runs for n in run_nodes]
        if nodes:
            await conn.execute(NODES.insert(), nodes)
        queued = any(run.get("status") == "QUEUED" for run, _ in runs)
        if conn.dialect.name == "postgresql" and queued:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})

    # --- claim and lease -----------------------------------------------------------------

    async def claim(
        self, owner: str, *, limit: int, lease_seconds: float, user_cap: int
    ) -> tuple[list[Row[Any]], dict[str, list[Row[Any]]]]:
        """Take up to ``limit`` runnable top-level runs under a lease.

        Returns their rows, and the node executions of those claimed for the first time
        (resumed runs load theirs with :meth:`load_nodes`), read in the same transaction.

        Runnable: QUEUED, or RUNNING with a lapsed lease (its process died). A user's runs
        are taken only while fewer than ``user_cap`` of them are running. PostgreSQL skips
        rows another claimer has locked, so processes never take the same run.

        The cap counts committed starts: two processes starting runs of one user in the
        same instant may each count the other's as not yet running, so across processes
        it can be exceeded briefly by the runs started in that instant. (Serialising all
        starts with an advisory lock makes it exact but costs a quarter of the throughput.)
        """
        now = utcnow()
        params = {
            "now": now,
            "expires": now + timedelta(seconds=lease_seconds),
            "owner": owner,
            "scan": max(64, limit * 4),
            "cap": user_cap,
            "limit": limit,
        }
        if self._claim_stmt is None:
            self._claim_stmt = _claim_statement()
        stmt = self._claim_stmt
        async with self.db.begin() as conn:
            runs = list((await conn.execute(stmt, params)).all())
            fresh = [r.id for r in runs if r.attempts == 1]
            nodes: dict[str, list[Row[Any]]] = {run_id: [] for run_id in fresh}
            if fresh:
                rows = await conn.execute(
                    select(NODES).where(NODES.c.graph_exec_id.in_(fresh)).order_by(NODES.c.seq)
                )
                for row in rows:
                    nodes[row.graph_exec_id].append(row)
            return runs, nodes

    async def renew(
        self, owner: str, run_ids: Iterable[str], lease_seconds: float
    ) -> dict[str, bool]:
        """Extend the leases of ``run_ids`` still held by ``owner``: id -> stop_requested."""
        ids = list(run_ids)
        if not ids:
            return {}
        now = utcnow()
        stmt = (
            update(RUNS)
            .where(RUNS.c.id.in_(ids), RUNS.c.lease_owner == owner, RUNS.c.status == "RUNNING")
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(RUNS.c.id, RUNS.c.stop_requested)
        )
        async with self.db.begin() as conn:
            return {row.id: bool(row.stop_requested) for row in await conn.execute(stmt)}

    async def expire_leases(self, owner: str, run_ids: Iterable[str] | None = None) -> int:
        """Let runs held by ``owner`` be claimed at once (start-up adoption, drain)."""
        stmt = (
            update(RUNS)
            .where(RUNS.c.lease_owner == owner, RUNS.c.status == "RUNNING")
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        if run_ids is not None:
            ids = list(run_ids)
            if not ids:
                return 0
            stmt = stmt.where(RUNS.c.id.in_(ids))
        async with self.db.begin() as conn:
            result = await conn.execute(stmt)
            if conn.dialect.name == "postgresql" and result.rowcount:
                await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})
            return int(result.rowcount or 0)

    # --- loading a claimed run -----------------------------------------------------------

    async def load_nodes(self, graph_exec_id: str, *, resume: bool) -> list[Row[Any]]:
        """The run's node executions in order; on ``resume``, hand back interrupted ones.

        A node execution left RUNNING by a dead process loses its partial outputs and goes
        back to QUEUED; child runs it had started are terminated (it will start new ones).
        """
        async with self.db.begin() as conn:
            if resume:
                interrupted = (
                    select(NODES.c.id)
                    .where(NODES.c.graph_exec_id == graph_exec_id, NODES.c.status == "RUNNING")
                    .scalar_subquery()
                )
                now = utcnow()
                await conn.execute(
                    update(RUNS)
                    .where(
                        RUNS.c.parent_node_exec_id.in_(interrupted),
                        RUNS.c.status.in_(("QUEUED", "RUNNING")),
                    )
                    .values(status="TERMINATED", ended_at=now, updated_at=now, lease_owner=None)
                )
                await conn.execute(
                    update(NODES)
                    .where(NODES.c.graph_exec_id == graph_exec_id, NODES.c.status == "RUNNING")
                    .values(status="QUEUED", output_data={}, started_at=None, error=None)
                )
            stmt = select(NODES).where(NODES.c.graph_exec_id == graph_exec_id).order_by(NODES.c.seq)
            return list((await conn.execute(stmt)).all())

    # --- write-behind flush --------------------------------------------------------------

    async def flush(
        self,
        owner: str,
        *,
        lease_seconds: float,
        run_ids: Sequence[str],
        nodes: Sequence[Mapping[str, Any]],
        runs: Sequence[Mapping[str, Any]],
        notifications: Callable[[dict[str, bool]], Sequence[str]] | None = None,
        notify_channel: str = "",
    ) -> dict[str, bool]:
        """Write a batch of node rows and run updates in ONE transaction.

        The lease of every run in ``run_ids`` is checked (and extended) first: rows of runs
        this process no longer holds are not written. Returns id -> stop_requested for the
        runs still held. ``node_filter(held)`` may narrow ``nodes`` to the held runs.
        """
        now = utcnow()
        if self.db.is_postgres and notifications is None:
            return await self._flush_pg(owner, lease_seconds, run_ids, nodes, runs, now)
        async with self.db.begin() as conn:
            dialect = conn.dialect.name
            statements = self._flush_statements(dialect)
            held: dict[str, bool] = {}
            if run_ids:
                expires = now + timedelta(seconds=lease_seconds)
                fence_params = {"ids": list(run_ids), "owner": owner, "expires": expires}
                result = await conn.execute(statements["fence"], fence_params)
                held = {r.id: bool(r.stop_requested) for r in result}
            node_rows = [n for n in nodes if n["graph_exec_id"] in held]
            if node_rows:
                await conn.execute(statements["upsert"], node_rows)
            run_rows = [
                {"b_id": r["id"], "updated_at": now, **{k: r[k] for k in RUN_UPDATE_COLUMNS}}
                for r in runs
                if r["id"] in held
            ]
            if run_rows:
                await conn.execute(statements["runs"], run_rows)
            if notifications is not None and conn.dialect.name == "postgresql":
                payloads = notifications(held)
                if payloads:
                    await self._notify_many(conn, notify_channel, payloads)
        return held

    async def _flush_pg(
        self,
        owner: str,
        lease_seconds: float,
        run_ids: Sequence[str],
        nodes: Sequence[Mapping[str, Any]],
        runs: Sequence[Mapping[str, Any]],
        now: datetime,
    ) -> dict[str, bool]:
        if not run_ids:
            return {}
        if self._flush_pg_stmt is None:
            self._flush_pg_stmt = pg.flush_statement()
        params = {
            "ids": list(run_ids),
            "owner": owner,
            "expires": now + timedelta(seconds=lease_seconds),
            "now": now,
            "runs": pg.encode_rows(runs, ("id", *RUN_UPDATE_COLUMNS)),
            "nodes": pg.encode_rows(nodes, NODE_COLUMNS),
        }
        async with self.autocommit() as conn:
            result = await conn.execute(self._flush_pg_stmt, params)
            return {r.id: bool(r.stop_requested) for r in result}

    def autocommit(self) -> AsyncContextManager[AsyncConnection]:
        """A connection whose every statement commits on its own (one round trip each)."""
        if self._autocommit is None or self._autocommit_of is not self.db.engine:
            self._autocommit_of = self.db.engine
            self._autocommit = self.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit.connect()

    def _flush_statements(self, dialect: str) -> dict[str, Any]:
        """The flush's statements, built once per dialect (compiling costs more than running)."""
        cached = self._flush_stmts.get(dialect)
        if cached is None:
            cached = {
                "fence": _fence_statement(dialect),
                "upsert": self._upsert_nodes(dialect),
                "runs": update(RUNS)
                .where(RUNS.c.id == bindparam("b_id"))
                .values({k: bindparam(k) for k in (*RUN_UPDATE_COLUMNS, "updated_at")}),
            }
            self._flush_stmts[dialect] = cached
        return cached

    @staticmethod
    def _upsert_nodes(dialect: str) -> Any:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(NODES)
        changing = [c for c in NODE_COLUMNS if c not in ("id", "graph_exec_id", "created_at")]
        return stmt.on_conflict_do_update(
            index_elements=[NODES.c.id], set_={c: stmt.excluded[c] for c in changing}
        )

    @staticmethod
    async def _notify_many(conn: AsyncConnection, channel: str, payloads: Sequence[str]) -> None:
        stmt = text("SELECT pg_notify(:c, p) FROM unnest(CAST(:ps AS text[])) AS p")
        await conn.execute(stmt, {"c": channel, "ps": list(payloads)})

    async def notify(self, channel: str, payloads: Sequence[str]) -> None:
        """Send NOTIFY payloads on PostgreSQL (no-op on SQLite)."""
        if not payloads or not self.db.is_postgres:
            return
        async with self.autocommit() as conn:  # one round trip: no BEGIN and COMMIT
            await self._notify_many(conn, channel, payloads)

    # --- child runs ----------------------------------------------------------------------

    async def insert_child_run(
        self, run: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]
    ) -> None:
        """Write a child run (already RUNNING under its parent's owner) and its first nodes."""
        await self.insert_run(run, nodes)

    # --- stop ----------------------------------------------------------------------------

    async def request_stop(self, graph_exec_id: str) -> Row[Any] | None:
        """Flag a run (and its running descendants' parent chain) to stop; return its row.

        A run still QUEUED is terminated right here: no worker has it, nothing runs.
        """
        now = utcnow()
        async with self.db.begin() as conn:
            row = (
                await conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == graph_exec_id, RUNS.c.status.in_(("QUEUED", "RUNNING")))
                    .values(stop_requested=True, updated_at=now)
                    .returning(RUNS.c.id, RUNS.c.status, RUNS.c.lease_owner)
                )
            ).first()
            if row is not None and row.status == "QUEUED":
                await conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == graph_exec_id)
                    .values(status="TERMINATED", ended_at=now)
                )
                await conn.execute(
                    update(NODES)
                    .where(
                        NODES.c.graph_exec_id == graph_exec_id,
                        NODES.c.status.in_(("INCOMPLETE", "QUEUED")),
                    )
                    .values(status="TERMINATED", ended_at=now)
                )
            return row

    # --- reading -------------------------------------------------------------------------

    async def get_run(self, graph_exec_id: str, *, user_id: str | None = None) -> Row[Any] | None:
        """One run row, optionally only if ``user_id`` owns it."""
        stmt = select(RUNS).where(RUNS.c.id == graph_exec_id)
        if user_id is not None:
            stmt = stmt.where(RUNS.c.user_id == user_id)
        async with self.db.engine.connect() as conn:
            return (await conn.execute(stmt)).first()

    async def get_runs(self, graph_exec_ids: Sequence[str]) -> list[Row[Any]]:
        """Run rows by id."""
        if not graph_exec_ids:
            return []
        async with self.db.engine.connect() as conn:
            stmt = select(RUNS).where(RUNS.c.id.in_(list(graph_exec_ids)))
            return list((await conn.execute(stmt)).all())

    async def list_runs(
        self,
        *,
        user_id: str,
        graph_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Row[Any]], int]:
        """A user's top-level runs, newest first, and their total."""
        where = [RUNS.c.user_id == user_id, RUNS.c.parent_node_exec_id.is_(None)]
        if graph_id is not None:
            where.append(RUNS.c.graph_id == graph_id)
        stmt = (
            select(RUNS)
            .where(*where)
            .order_by(RUNS.c.created_at.desc(), RUNS.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self.db.engine.connect() as conn:
            rows = list((await conn.execute(stmt)).all())
            total = (await conn.execute(select(func.count()).where(*where))).scalar_one()
        return rows, int(total)

    async def get_nodes(
        self, graph_exec_id: str, node_exec_ids: Sequence[str] | None = None
    ) -> list[Row[Any]]:
        """The node executions of a run (or just the given ones), in order."""
        stmt = select(NODES).where(NODES.c.graph_exec_id == graph_exec_id)
        if node_exec_ids is not None:
            stmt = stmt.where(NODES.c.id.in_(list(node_exec_ids)))
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(stmt.order_by(NODES.c.seq))).all())

    async def delete_run(self, graph_exec_id: str, *, user_id: str) -> bool:
        """Delete a finished run and its node executions; False when there is none."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(RUNS).where(RUNS.c.id == graph_exec_id, RUNS.c.user_id == user_id)
            )
            return bool(result.rowcount)

    async def count_by_status(self, graph_exec_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Number of runs per status (all runs, or the given ones)."""
        stmt = select(RUNS.c.status, func.count()).group_by(RUNS.c.status)
        if graph_exec_ids is not None:
            stmt = stmt.where(RUNS.c.id.in_(list(graph_exec_ids)))
        async with self.db.engine.connect() as conn:
            return {status: int(n) for status, n in await conn.execute(stmt)}

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete finished top-level runs that ended before ``cutoff`` (retention)."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(RUNS).where(
                    RUNS.c.ended_at < cutoff,
                    RUNS.c.status.in_(("COMPLETED", "FAILED", "TERMINATED")),
                )
            )
            return int(result.rowcount or 0)


def _claim_statement() -> Any:
    """The claim UPDATE with bound parameters (now, expires, owner, scan, cap, limit)."""
    now = bindparam("now", type_=UTCDateTime())
    runnable = and_(
        RUNS.c.parent_node_exec_id.is_(None),
        or_(
            RUNS.c.status == "QUEUED",
            and_(RUNS.c.status == "RUNNING", RUNS.c.lease_expires_at < now),
        ),
    )
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
        .returning(*CLAIM_COLUMNS)
    )


def _fence_statement(dialect: str) -> Any:
    """Extend the leases of ``:ids`` held by ``:owner``; return those still held."""
    if dialect == "postgresql":
        # One array parameter: the same prepared statement whatever the number of runs.
        return text(
            "UPDATE graph_executions SET lease_expires_at = :expires "
            "WHERE id = ANY(CAST(:ids AS varchar[])) AND lease_owner = :owner "
            "RETURNING id, stop_requested"
        ).bindparams(bindparam("expires", type_=UTCDateTime()))
    return (
        update(RUNS)
        .where(
            RUNS.c.id.in_(bindparam("ids", expanding=True)),
            RUNS.c.lease_owner == bindparam("owner"),
        )
        .values(lease_expires_at=bindparam("expires", type_=UTCDateTime()))
        .returning(RUNS.c.id, RUNS.c.stop_requested)
    )
