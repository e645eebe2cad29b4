"""What a run produced: its outputs by name, its statistics and its graph event payload."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import BlockType
from autoplat.db.types import utcnow
from autoplat.executions.status import ExecutionStatus
from autoplat.graphs.schema import io_name

if TYPE_CHECKING:
    from autoplat.executions.executor import GraphRun

S = ExecutionStatus


def collect_outputs(run: GraphRun) -> dict[str, list[Any]]:
    """The values each OUTPUT node of the run emitted, under that output's name."""
    outputs: dict[str, list[Any]] = {}
    for nr in run.order:
        cnode = run.graph.nodes.get(nr.node_id)
        if cnode is None or cnode.block_type != BlockType.OUTPUT or nr.status != S.COMPLETED:
            continue
        name = nr.input_data.get("name") or io_name(cnode.node)
        if isinstance(name, str) and "output" in nr.output_data:
            outputs.setdefault(name, []).extend(nr.output_data["output"])
    return outputs


def run_stats(run: GraphRun) -> dict[str, Any]:
    """Run statistics (AutoGPT names beside ours)."""
    end = run.ended_at or utcnow()
    walltime = round((end - run.started_at).total_seconds(), 6)
    ran = [nr for nr in run.order if nr.started_at is not None]
    errors = [nr.error for nr in run.order if nr.status == S.FAILED and nr.error]
    node_time = sum(float(nr.stats.get("walltime", 0.0)) for nr in ran)
    cost = sum(int(nr.stats.get("cost", 0)) for nr in run.order)
    return {
        "walltime": walltime,
        "duration": walltime,
        "node_count": len(ran),
        "node_exec_count": len(ran),
        "node_exec_time": round(node_time, 6),
        "node_error_count": len(errors),
        "errors": errors[:20],
        "cost": cost,
        "attempts": run.attempts,
    }


def run_event_data(run: GraphRun) -> dict[str, Any]:
    """A ``graph_execution_event`` payload."""
    return {
        "event_type": "graph_execution_update",
        "id": run.id,
        "graph_exec_id": run.id,
        "user_id": run.user_id,
        "graph_id": run.graph_id,
        "graph_version": run.graph_version,
        "preset_id": None,
        "status": run.status.value,
        "inputs": run.inputs,
        "outputs": run.outputs,
        "stats": run_stats(run) if run.finished else {},
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
    }
