"""RunTally: what a run produced (outputs by name, statistics), kept as its nodes end.

A finished node execution leaves memory once it is durable, so nothing may walk a run's
node executions at the end: the tally takes what it needs from each one as it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autoplat.executions.state import NodeRun
from autoplat.executions.status import ExecutionStatus

S = ExecutionStatus
#: Error messages a run's statistics list (the count covers them all).
MAX_ERRORS = 20


@dataclass(slots=True)
class RunTally:
    """Outputs and statistics of one run, updated as its node executions end."""

    outputs: dict[str, list[Any]] = field(default_factory=dict)
    ran: int = 0
    node_time: float = 0.0
    cost: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def node_ended(self, nr: NodeRun, output_name: str | None) -> None:
        """Count a node execution that ended; ``output_name`` when it is an output node."""
        if nr.started_at is not None:
            self.ran += 1
            self.node_time += float(nr.stats.get("walltime", 0.0))
        self.cost += int(nr.stats.get("cost", 0))
        if nr.status == S.FAILED and nr.error:
            self.error_count += 1
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(nr.error)
        if output_name is not None and nr.status == S.COMPLETED and "output" in nr.output_data:
            self.outputs.setdefault(output_name, []).extend(nr.output_data["output"])

    def stats(self, started_at: datetime, ended_at: datetime, attempts: int) -> dict[str, Any]:
        """Run statistics (AutoGPT names beside ours)."""
        walltime = round((ended_at - started_at).total_seconds(), 6)
        return {
            "walltime": walltime,
            "duration": walltime,
            "node_count": self.ran,
            "node_exec_count": self.ran,
            "node_exec_time": round(self.node_time, 6),
            "node_error_count": self.error_count,
            "errors": list(self.errors),
            "cost": self.cost,
            "attempts": attempts,
        }
