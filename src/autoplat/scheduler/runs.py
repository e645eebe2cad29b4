"""Building the runs of many fires at once, the way ``executions.submit`` builds one.

``submit`` compiles the graph, checks credits, validates the inputs and writes the run, one
run per call. A tick of thousands of schedules needs the same per run but with the slow
parts shared: graphs are compiled and credits checked once per graph and per user, outside
the fire's transaction, and the rows of every run of a batch are written inside it by the
queue's one insert path (``ExecutionStore.submit`` with the fire's connection). A schedule
of a preset reads the preset when its batch is prepared, so each fire runs the preset's
inputs and credentials as they are at that moment (a preset edited since the last fire
changes the next run). A fire's credentials are the schedule's own over the preset's, field
by field: references only, checked when the schedule was made and again as nodes run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from autoplat.db import storable
from autoplat.db.presets import Preset
from autoplat.db.rows import NodeRow, RunRow
from autoplat.db.schedules import ScheduleRecord
from autoplat.errors import AutoplatError
from autoplat.executions.newrun import new_run_rows
from autoplat.library.errors import PresetNotFound
from autoplat.scheduler.service import fire_credentials, fire_inputs

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
    #: The presets the batch's schedules read, by id, as they were when it was prepared.
    presets: dict[str, Preset] = field(default_factory=dict)

    async def prepare(self, schedules: Iterable[ScheduleRecord]) -> None:
        """Compile each graph and check each user's credits once (outside any transaction)."""
        schedules = list(schedules)
        self.presets = await self.executions.db.presets.get_many(
            (s.user_id, s.preset_id) for s in schedules if s.preset_id is not None
        )
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
        preset: Preset | None = None
        if schedule.preset_id is not None:
            preset = self.presets.get(schedule.preset_id)
            if preset is None:  # deleted after the batch was claimed (its delete pauses it)
                raise PresetNotFound(f"preset {schedule.preset_id} does not exist")
        inputs = fire_inputs(dict(schedule.inputs), preset)
        # Fixed inputs that passed once pass again; a preset's may have changed since.
        if preset is not None or schedule.id not in self.validated:
            inputs = self.executions.submitter.admit_inputs(graph, inputs)
            if preset is None:
                self.validated.add(schedule.id)
        run, nodes = new_run_rows(schedule.user_id, graph, inputs, schedule_id=schedule.id)
        # References to the user's credentials (never secrets), checked again as nodes run
        # (a credential deleted since the schedule was made fails its node, not the tick).
        run.credentials_inputs = storable.sanitize(
            fire_credentials(dict(schedule.credentials_inputs), preset)
        )
        return NewRun(run, nodes)

    def announce(self, runs: list[NewRun]) -> None:
        """After commit: tell subscribers the runs are queued and wake this process's workers."""
        if not runs:
            return
        self.executions.announce([self.executions.queued_event(r.run) for r in runs])
        # PostgreSQL wakes every process by NOTIFY; on SQLite the workers poll, so nudge them.
        self.executions.wake()
