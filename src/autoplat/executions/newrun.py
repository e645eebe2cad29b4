"""The rows of a new run: one builder for the API, the scheduler and sub-agents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from autoplat.db.rows import NodeRow, RunRow
from autoplat.db.types import utcnow
from autoplat.executions.graph import CompiledGraph
from autoplat.executions.host import new_id
from autoplat.executions.status import ExecutionStatus

S = ExecutionStatus


def new_run_rows(
    user_id: str,
    graph: CompiledGraph,
    inputs: dict[str, Any],
    *,
    schedule_id: str | None = None,
    parent: str | None = None,
    owner: str | None = None,
    lease_seconds: float = 0.0,
) -> tuple[RunRow, list[NodeRow]]:
    """A QUEUED run and its starting node executions; with ``owner``, RUNNING held by it.

    ``inputs`` must be storable already (see ``executions.storable``).
    """
    now = utcnow()
    run = RunRow(
        id=new_id(),
        user_id=user_id,
        graph_id=graph.id,
        graph_version=graph.version,
        status=S.QUEUED.value,
        inputs=inputs,
        outputs={},
        stats={},
        parent_node_exec_id=parent,
        schedule_id=schedule_id,
        created_at=now,
        updated_at=now,
    )
    if owner is not None:
        run.status = S.RUNNING.value
        run.lease_owner = owner
        run.lease_expires_at = now + timedelta(seconds=lease_seconds)
        run.attempts = 1
        run.started_at = now
    nodes = [
        NodeRow(
            id=new_id(),
            graph_exec_id=run.id,
            node_id=node.id,
            block_id=node.block.id,
            status=S.QUEUED.value,
            seq=seq,
            input_data=graph.starting_data(node, inputs),
            output_data={},
            stats={},
            created_at=now,
        )
        for seq, node in enumerate(graph.starting)
    ]
    return run, nodes
