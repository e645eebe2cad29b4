"""Submitter: validate, admit and write a new run; one path for the API and the CLI.

A submit loads the graph version (compiled once per version), checks the user's credits,
validates the run inputs (422 with per-node details), makes them storable, and writes the
run with its first node executions (group commit). A process with a free worker starts
the run in that same write; otherwise the claimers are woken. The run is announced as
QUEUED either way, so clients see the usual sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from autoplat.config import Settings
from autoplat.db import storable
from autoplat.executions.batcher import SubmitBatcher
from autoplat.executions.events import EventBus, ExecutionEvent
from autoplat.executions.graph import CompiledGraph
from autoplat.executions.graphcache import GraphCache
from autoplat.executions.newrun import new_run_rows
from autoplat.executions.ports import CredentialsResolver, Credits
from autoplat.executions.views import run_view
from autoplat.executions.worker import Worker
from autoplat.graphs.validation import validate_run_inputs
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.executions.submit")


class Submitter:
    """Writes new runs for the API and the CLI."""

    def __init__(
        self,
        settings: Settings,
        graphs: GraphCache,
        worker: Worker,
        bus: EventBus,
        credits: Credits | None,
        tasks: TaskOwner,
        credentials: CredentialsResolver | None = None,
    ) -> None:
        self.settings = settings
        self.graphs = graphs
        self.worker = worker
        self.bus = bus
        self.credits = credits
        self.credentials = credentials
        self.batcher = SubmitBatcher(
            worker.db.executions,
            tasks,
            starter=worker.reserve,
            releaser=worker.unreserve,
            user_cap=settings.user_max_running,
        )

    async def submit(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        credentials_inputs: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue a run of a graph version (the active one when None); return its id.

        Every credential the run's nodes need must be the user's (or a platform one):
        422 naming the node and field otherwise, before anything is written.
        """
        graph = await self.graphs.for_user(user_id, graph_id, graph_version)
        run_inputs = self.admit_inputs(graph, inputs)
        references: dict[str, Any] = storable.sanitize(dict(credentials_inputs or {}))
        if self.credentials is not None:
            await self.credentials.check_graph(user_id, graph.graph, references)
        if self.credits is not None and self.credits.enabled:
            await self.credits.ensure_can_run(user_id)
        run, nodes = new_run_rows(user_id, graph, run_inputs)
        run.credentials_inputs = references
        # Announced as QUEUED even when it starts at once: clients see the usual sequence.
        queued = ExecutionEvent("graph", run_view(run))
        leased_at = asyncio.get_running_loop().time()  # before the write that may lease it
        await self.batcher.insert(run, nodes)
        self.worker.submitted(run, nodes, leased_at)
        log.info("execution.queued", graph_exec_id=run.id, graph_id=graph_id, user_id=user_id)
        self.bus.publish([queued])
        return run.id

    def admit_inputs(
        self, graph: CompiledGraph, inputs: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Validated run inputs (ValidationFailed names the node and pin), made storable."""
        run_inputs = dict(inputs or {})
        validate_run_inputs(graph.graph, run_inputs, self.graphs.blocks)
        clean: dict[str, Any] = storable.sanitize(run_inputs)
        return clean
