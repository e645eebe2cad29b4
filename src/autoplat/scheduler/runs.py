"""Building the runs of many fires at once, the way ``executions.submit`` builds one.

``submit`` compiles the graph, checks credits, validates the inputs and writes the run, one
run per call and one call per transaction. A tick of thousands of schedules needs the same
per run but with the slow parts shared: graphs are compiled and credits checked once per
graph and per user, outside the fire's transaction, and the rows of every run of a batch are
written with two bulk statements inside it (see ``ScheduleStore.insert_runs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from autoplat.db.schedules import ScheduleRecord
from autoplat.errors import AutoplatError
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.views import run_view
from autoplat.graphs.validation import validate_run_inputs

if TYPE_CHECKING:
    from autoplat.executions.graph import CompiledGraph
    from autoplat.executions.manager import ExecutionManager

GraphKey = tuple[str, str, int]  # (user id, graph id, version)


@dataclass
class NewRun:
    """The rows of one run to insert."""

    run: dict[str, Any]
    nodes: list[dict[str, Any]]

    @property
    def id(self) -> str:
        """The run's id."""
        return str(self.run["id"])

    def restamp(self, moment: datetime) -> None:
        """Say the rows were created at ``moment`` (they are built before they are written)."""
        self.run["created_at"] = self.run["updated_at"] = moment
        for node in self.nodes:
            if "created_at" in node:
                node["created_at"] = moment


@dataclass
class RunMaker:
    """Makes runs for the schedules of one batch."""

    executions: ExecutionManager
    #: Ids of schedules whose inputs already passed validation (shared across batches).
    validated: set[str] = field(default_factory=set)
    graphs: dict[GraphKey, CompiledGraph] = field(default_factory=dict)
    refused: dict[GraphKey | str, AutoplatError] = field(default_factory=dict)

    async def prepare(self, schedules: Iterable[ScheduleRecord]) -> None:
        """Compile each graph and check each user's credits once (outside any transaction)."""
        schedules = list(schedules)
        keys = {(s.user_id, s.graph_id, s.graph_version) for s in schedules}
        for key in keys - self.graphs.keys():
            try:
                self.graphs[key] = await self.executions.graph_for(*key)
            except AutoplatError as exc:
                self.refused[key] = exc
        ensure = getattr(self.executions.credits, "ensure_can_run", None)
        if ensure is None:
            return
        for user_id in {s.user_id for s in schedules}:
            try:
                await ensure(user_id)
            except AutoplatError as exc:
                self.refused[user_id] = exc

    def build(self, schedule: ScheduleRecord) -> NewRun:
        """The run of one fire; raises the AutoplatError that ``submit`` would have raised."""
        key = (schedule.user_id, schedule.graph_id, schedule.graph_version)
        refusal = self.refused.get(key) or self.refused.get(schedule.user_id)
        if refusal is not None:
            raise refusal
        graph = self.graphs[key]
        inputs = dict(schedule.inputs)
        if schedule.id not in self.validated:
            validate_run_inputs(graph.graph, inputs, self.executions.blocks)
            self.validated.add(schedule.id)
        run, nodes = self.executions.new_run_rows(
            schedule.user_id, graph, inputs, schedule_id=schedule.id
        )
        return NewRun(run, nodes)

    def announce(self, runs: list[NewRun]) -> None:
        """After commit: tell subscribers the runs are queued and wake this process's workers."""
        if not runs:
            return
        self.executions.bus.publish(
            [ExecutionEvent("graph", run_view(SimpleNamespace(**r.run))) for r in runs]
        )
        # PostgreSQL wakes every process by NOTIFY; on SQLite the workers poll, so nudge them.
        self.executions.wake()
