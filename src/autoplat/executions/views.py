"""The JSON shapes of runs and node executions, shared by REST, WebSocket and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    """An ISO-8601 timestamp, or None."""
    return value.isoformat() if value is not None else None


def run_view(row: Any) -> dict[str, Any]:
    """A run as the API and ``graph_execution_event`` show it (AutoGPT's field names)."""
    stats = dict(row.stats or {})
    return {
        "id": row.id,
        "graph_exec_id": row.id,
        "user_id": row.user_id,
        "graph_id": row.graph_id,
        "graph_version": row.graph_version,
        "preset_id": None,
        "status": row.status,
        "inputs": row.inputs or {},
        "outputs": row.outputs or {},
        "stats": stats,
        "error": row.error,
        "parent_node_exec_id": row.parent_node_exec_id,
        "schedule_id": row.schedule_id,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
    }


def node_view(run: Any, row: Any) -> dict[str, Any]:
    """A node execution as the API and ``node_execution_event`` show it.

    ``run`` supplies the run-level ids (a run row or anything with the same attributes).
    """
    return {
        "user_id": run.user_id,
        "graph_id": run.graph_id,
        "graph_version": run.graph_version,
        "graph_exec_id": row.graph_exec_id,
        "node_exec_id": row.id,
        "node_id": row.node_id,
        "block_id": row.block_id,
        "status": row.status,
        "input_data": row.input_data or {},
        "output_data": row.output_data or {},
        "error": row.error,
        "stats": row.stats or {},
        "seq": row.seq,
        "add_time": iso(row.created_at),
        "queue_time": iso(row.created_at),
        "start_time": iso(row.started_at),
        "end_time": iso(row.ended_at),
    }
