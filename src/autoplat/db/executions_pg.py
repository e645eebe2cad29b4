"""PostgreSQL one-statement forms of the hot writes (submit and flush).

Each is ONE statement run outside an explicit transaction: PostgreSQL commits it on its
own, durably (``synchronous_commit`` applies), so a write costs one round trip instead of
BEGIN, a statement per table and COMMIT. Rows travel as one JSON document that
``jsonb_to_recordset`` turns back into typed rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, text

from autoplat.db.types import UTCDateTime

NODE_RECORD = (
    "id varchar, graph_exec_id varchar, node_id varchar, block_id varchar, status varchar, "
    "seq integer, input_data jsonb, output_data jsonb, error text, stats jsonb, "
    "created_at timestamptz, started_at timestamptz, ended_at timestamptz"
)
NODE_INSERT_COLUMNS = (
    "id, graph_exec_id, node_id, block_id, status, seq, input_data, output_data, error, "
    "stats, created_at, started_at, ended_at"
)
NODE_UPSERT_SET = ", ".join(
    f"{c} = excluded.{c}"
    for c in (
        "node_id",
        "block_id",
        "status",
        "seq",
        "input_data",
        "output_data",
        "error",
        "stats",
        "started_at",
        "ended_at",
    )
)
RUN_RECORD = (
    "id varchar, status varchar, outputs jsonb, stats jsonb, error text, ended_at timestamptz"
)


def flush_statement() -> TextClause:
    """Fence the leases of ``:ids``, write node rows and run updates of the runs still held.

    The fence and the run updates are one UPDATE (a statement may change a row once); node
    rows of runs the fence did not return are dropped. Returns ``id, stop_requested``.
    """
    return text(
        f"""
        WITH v AS (
            SELECT * FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS v({RUN_RECORD})
        ), fence AS (
            UPDATE graph_executions AS g SET
                lease_expires_at = :expires,
                status = CASE WHEN v.id IS NULL THEN g.status ELSE v.status END,
                outputs = CASE WHEN v.id IS NULL THEN g.outputs ELSE v.outputs END,
                stats = CASE WHEN v.id IS NULL THEN g.stats ELSE v.stats END,
                error = CASE WHEN v.id IS NULL THEN g.error ELSE v.error END,
                ended_at = CASE WHEN v.id IS NULL THEN g.ended_at ELSE v.ended_at END,
                updated_at = CASE WHEN v.id IS NULL THEN g.updated_at ELSE :now END
            FROM unnest(CAST(:ids AS varchar[])) AS i(id) LEFT JOIN v ON v.id = i.id
            WHERE g.id = i.id AND g.lease_owner = :owner
            RETURNING g.id, g.stop_requested
        ), written AS (
            INSERT INTO node_executions ({NODE_INSERT_COLUMNS})
            SELECT {NODE_INSERT_COLUMNS}
            FROM jsonb_to_recordset(CAST(:nodes AS jsonb)) AS n({NODE_RECORD})
            WHERE n.graph_exec_id IN (SELECT id FROM fence)
            ON CONFLICT (id) DO UPDATE SET {NODE_UPSERT_SET}
        )
        SELECT id, stop_requested FROM fence
        """
    ).bindparams(
        bindparam("expires", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    )


def encode_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` (only ``columns``) as a JSON array; timestamps in ISO 8601 with offset."""
    return json.dumps([{c: _plain(row[c]) for c in columns} for row in rows])


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


RUN_COLUMNS = (
    "id",
    "user_id",
    "graph_id",
    "graph_version",
    "status",
    "inputs",
    "outputs",
    "stats",
    "error",
    "parent_node_exec_id",
    "schedule_id",
    "lease_owner",
    "lease_expires_at",
    "stop_requested",
    "attempts",
    "created_at",
    "started_at",
    "ended_at",
    "updated_at",
)
NEW_RUN_RECORD = (
    "ord integer, id varchar, user_id varchar, graph_id varchar, graph_version integer, "
    "status varchar, inputs jsonb, outputs jsonb, stats jsonb, error text, "
    "parent_node_exec_id varchar, schedule_id varchar, lease_owner varchar, "
    "lease_expires_at timestamptz, stop_requested boolean, attempts integer, "
    "created_at timestamptz, started_at timestamptz, ended_at timestamptz, "
    "updated_at timestamptz"
)


def submit_statement() -> TextClause:
    """Insert new runs and their first node executions; returns each run's ``id, status``.

    A run the caller marked RUNNING (to start it at once) stays RUNNING only while its
    user has fewer than ``:cap`` top-level runs running, counting the committed ones and
    those before it in this batch; otherwise it is written QUEUED, unheld. QUEUED runs
    wake the claimers of every process (NOTIFY, delivered at commit).
    """
    return text(
        f"""
        WITH v AS (
            SELECT * FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS v({NEW_RUN_RECORD})
        ), running AS (
            SELECT user_id, count(*) AS n FROM graph_executions
            WHERE user_id IN (SELECT user_id FROM v) AND status = 'RUNNING'
                AND parent_node_exec_id IS NULL AND lease_expires_at >= :now
            GROUP BY user_id
        ), ranked AS (
            SELECT v.*, v.status = 'RUNNING' AND coalesce(running.n, 0) + row_number() OVER (
                PARTITION BY v.user_id, v.status = 'RUNNING' ORDER BY v.ord
            ) > :cap AS demote
            FROM v LEFT JOIN running ON running.user_id = v.user_id
        ), runs AS (
            INSERT INTO graph_executions ({", ".join(RUN_COLUMNS)})
            SELECT id, user_id, graph_id, graph_version,
                CASE WHEN demote THEN 'QUEUED' ELSE status END,
                inputs, outputs, stats, error, parent_node_exec_id, schedule_id,
                CASE WHEN demote THEN NULL ELSE lease_owner END,
                CASE WHEN demote THEN NULL ELSE lease_expires_at END,
                stop_requested,
                CASE WHEN demote THEN 0 ELSE attempts END,
                created_at,
                CASE WHEN demote THEN NULL ELSE started_at END,
                ended_at, updated_at
            FROM ranked
            RETURNING id, status
        ), nodes AS (
            INSERT INTO node_executions ({NODE_INSERT_COLUMNS})
            SELECT {NODE_INSERT_COLUMNS}
            FROM jsonb_to_recordset(CAST(:nodes AS jsonb)) AS n({NODE_RECORD})
        )
        SELECT id, status, (
            SELECT count(*) FROM (
                SELECT pg_notify(:channel, '') FROM runs WHERE status = 'QUEUED' LIMIT 1
            ) AS woken
        ) AS woken
        FROM runs
        """
    ).bindparams(bindparam("now", type_=UTCDateTime()))


def encode_new_runs(runs: Sequence[Mapping[str, Any]]) -> str:
    """New run rows as a JSON array, each with its batch position ``ord``."""
    return json.dumps(
        [{"ord": i, **{c: _plain(run[c]) for c in RUN_COLUMNS}} for i, run in enumerate(runs)]
    )
