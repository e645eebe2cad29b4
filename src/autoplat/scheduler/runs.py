"""Building the runs of many fires at once, the way ``executions.submit`` builds one.

``submit`` compiles the graph, checks credits, validates the inputs and writes the run, one
run per call. A tick of thousands of schedules needs the same per run but with the slow
parts shared: graphs are compiled and credits checked once per graph and per user, outside
the fire's transaction, and the rows of every run of a batch are written inside it by the
queue's one insert path (``ExecutionStore.submit`` with the fire's connection).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from autoplat.db.rows import NodeRow, RunRow
from autoplat.db.schedules import ScheduleRecord
from autoplat.errors import AutoplatError
from autoplat.executions.newrun import new_run_rows

if TYPE_CHECKING:
    from autoplat.executions.graph import CompiledGraph
    from autoplat.executions.manager import ExecutionManager

GraphKey = tuple[str, str, int]  # (user id, graph id, version)


@dataclass
class NewRun:
    """The rows of one run to insert."""

    run: RunRow
    nodes: list[NodeRow]

    @property
    def id(self) -> str:
        """The run's id."""
        return self.run.id

    def restamp(self, moment: datetime) -> None:
        """Say the rows were created at ``moment`` (they are built before they are written)."""
        self.run.created_at = self.run.updated_at = moment
        for node in self.nodes:
            node.created_at = moment


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
        credits = self.executions.credits
        if credits is None or not credits.enabled:
            return
        for user_id in {s.user_id for s in schedules}:
            try:
                await credits.ensure_can_run(user_id)
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
            inputs = self.executions.submitter.admit_inputs(graph, inputs)
            self.validated.add(schedule.id)
        run, nodes = new_run_rows(schedule.user_id, graph, inputs, schedule_id=schedule.id)
        return NewRun(run, nodes)

    def announce(self, runs: list[NewRun]) -> None:
        """After commit: tell subscribers the runs are queued and wake this process's workers."""
        if not runs:
            return
        self.executions.announce([self.executions.queued_event(r.run) for r in runs])
        # PostgreSQL wakes every process by NOTIFY; on SQLite the workers poll, so nudge them.
        self.executions.wake()
