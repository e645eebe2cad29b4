"""The PostgreSQL queue: submit and the fenced write each as ONE statement.

Each statement is text SQL compiled once from the tables' columns, so a new column cannot
be forgotten; rows travel as one JSON document that ``jsonb_to_recordset`` turns back into
typed rows. The invariants of ``db/queue.py`` hold: the fence is owner AND epoch, runs are
locked in id order, and node rows are written only for runs the same statement fenced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.queue import (
    NODE_CHANGING,
    NODE_COLUMNS,
    NODE_JSON,
    NODES,
    QUEUE_CHANNEL,
    RUN_COLUMNS,
    RUN_JSON,
    RUN_UPDATE_COLUMNS,
    RUNS,
    FencedWrite,
    Held,
    Queue,
)
from autoplat.db.rows import NodeRow, NodeWrite, RunRow, RunWrite
from autoplat.db.types import UTCDateTime, utcnow


class PgQueue(Queue):
    """PostgreSQL: submit and write are each ONE autocommitted statement (one round trip).

    Rows travel as one JSON document that ``jsonb_to_recordset`` turns back into typed
    rows; the record definitions are compiled from the tables' column types.
    """

    def __init__(self) -> None:
        self._write_statement = _write_statement()
        self._submit_statement = _submit_statement()

    async def _running_counts(self, conn: AsyncConnection, users: set[str]) -> dict[str, int]:
        # The submit statement applies the committed running counts itself: none here.
        return {}

    async def _insert(
        self,
        conn: AsyncConnection,
        runs: Sequence[RunRow],
        nodes: Sequence[NodeRow],
        user_cap: int | None,
    ) -> set[str]:
        params = {
            "runs": encode([{"ord": i, **r.as_dict()} for i, r in enumerate(runs)]),
            "nodes": encode([n.as_dict() for n in nodes]),
            "now": utcnow(),
            "cap": user_cap if user_cap is not None else 2**31 - 1,
            "channel": QUEUE_CHANNEL,
        }
        written = {r.id: r.status for r in await conn.execute(self._submit_statement, params)}
        return {r.id for r in runs if r.status == "RUNNING" and written.get(r.id) != "RUNNING"}

    async def _wake_claimers(self, conn: AsyncConnection, queued: bool) -> None:
        if queued:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})

    async def _write(self, conn: AsyncConnection, write: FencedWrite) -> Held:
        params = {
            "ids": [run_id for run_id, _ in write.fences],
            "epochs": [epoch for _, epoch in write.fences],
            "owner": write.owner,
            "expires": write.expires,
            "now": write.now,
            "runs": _documents(write.runs, RUN_JSON),
            # Sorted by id: concurrent upserts take their row locks in one order.
            "nodes": _documents(sorted(write.nodes, key=lambda n: n.id), NODE_JSON),
        }
        rows = await conn.execute(self._write_statement, params)
        return {r.id: bool(r.stop_requested) for r in rows}


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


def _write_statement() -> TextClause:
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


def _submit_statement() -> TextClause:
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
