"""The in-memory state of one node execution, live in the process that owns its run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autoplat.db import storable
from autoplat.db.rows import NodeWrite
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.status import ExecutionStatus
from autoplat.executions.views import iso

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun


@dataclass(slots=True, eq=False)
class NodeRun:
    """One execution of one node, live in the process that owns the run.

    ``version`` counts changes; the flusher writes the row when it differs from the
    version last written. ``deps`` are the node executions whose outputs fed this one: the
    row is written only once they are durably finished, so after a crash no row depends on
    outputs of a node execution that will run again.
    """

    id: str
    graph_exec_id: str
    node_id: str
    block_id: str
    seq: int
    status: ExecutionStatus
    input_data: dict[str, Any]
    created_at: datetime
    output_data: dict[str, list[Any]] = field(default_factory=dict)
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    deps: set[str] = field(default_factory=set)
    version: int = 1
    flushed_version: int = 0
    events: list[ExecutionEvent] = field(default_factory=list)

    @property
    def dirty(self) -> bool:
        """Whether the row has changes not yet written."""
        return self.version != self.flushed_version

    def write(self) -> NodeWrite:
        """The row as written to ``node_executions``, encoded.

        A RUNNING row carries no outputs: they are written once, with the node's end, so a
        node that yields N values writes O(N) bytes, not O(N²); a resumed RUNNING node
        starts again from nothing anyway.
        """
        outputs = (
            "{}" if self.status == ExecutionStatus.RUNNING else storable.dumps(self.output_data)
        )
        return NodeWrite(
            id=self.id,
            graph_exec_id=self.graph_exec_id,
            node_id=self.node_id,
            block_id=self.block_id,
            status=self.status.value,
            seq=self.seq,
            input_data=storable.dumps(self.input_data),
            output_data=outputs,
            error=storable.text(self.error),
            stats=storable.dumps(self.stats),
            created_at=self.created_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )

    def event_data(self, run: GraphRun, output: tuple[str, Any] | None = None) -> dict[str, Any]:
        """A ``node_execution_event`` payload; for an output, only that output."""
        if output is not None:
            outputs: dict[str, list[Any]] = {output[0]: [output[1]]}
        elif self.status == ExecutionStatus.RUNNING:
            outputs = {}
        else:
            outputs = {pin: list(values) for pin, values in self.output_data.items()}
        return {
            "event_type": "node_execution_update",
            "user_id": run.user_id,
            "graph_id": run.graph_id,
            "graph_version": run.graph_version,
            "graph_exec_id": self.graph_exec_id,
            "node_exec_id": self.id,
            "node_id": self.node_id,
            "block_id": self.block_id,
            "status": self.status.value,
            "input_data": self.input_data if output is None else {},
            "output_data": outputs,
            "error": self.error,
            "seq": self.seq,
            "add_time": iso(self.created_at),
            "queue_time": iso(self.created_at),
            "start_time": iso(self.started_at),
            "end_time": iso(self.ended_at),
        }
