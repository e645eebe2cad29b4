"""Worker: claims runs, holds their leases, runs them, and hosts their child runs.

The worker is the one place where runs start and end in this process. It is the
:class:`~autoplat.executions.host.RunHost` of every run it holds: child runs, the hand-over
to the flusher, metrics and traces, and its :class:`~.services.RunServices` (block
contexts, credentials, reviews and charges).

Invariants: a run is held by at most one live ``GraphRun`` here (a run claimed again
after its lease lapsed replaces the old instance, which is told its lease is lost); every
end that cannot go through a run's own flush (unstartable, unstorable, orphaned) goes
through :meth:`end_hard`, which writes the run and its node rows and announces it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog

from autoplat.blocks.base import ReviewRequired
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings
from autoplat.db import storable
from autoplat.db.manager import DatabaseManager
from autoplat.db.rows import NodeRow, RunRow
from autoplat.db.types import utcnow
from autoplat.errors import GraphNotFound
from autoplat.executions.events import (
    EVENTS_CHANNEL,
    EventBus,
    ExecutionEvent,
    encode_notifications,
)
from autoplat.executions.flusher import Flusher
from autoplat.executions.graph import CompiledGraph
from autoplat.executions.graphcache import GraphCache
from autoplat.executions.host import LeaseLost
from autoplat.executions.newrun import new_run_rows
from autoplat.executions.ports import CredentialsResolver, Credits, ExecutionObserver, RunTracer
from autoplat.executions.run import GraphRun
from autoplat.executions.services import RunServices
from autoplat.executions.state import NodeRun
from autoplat.executions.status import ExecutionStatus
from autoplat.executions.views import run_view
from autoplat.graphs.model import Graph
from autoplat.graphs.validation import validate_run_inputs
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.executions.worker")
S = ExecutionStatus
#: Seconds between a run's end and the claim for the worker it freed.
CLAIM_AFTER_RUN = 0.001
#: Seconds between looks for child runs whose process died.
REAP_EVERY = 5.0


class RunFailedHard(Exception):
    """The run was ended outside its flush (its data could not be stored)."""


class Worker:
    """Claims graph runs from the database and executes them node by node."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        graphs: GraphCache,
        flusher: Flusher,
        bus: EventBus,
        *,
        owner: str,
        credits: Credits | None,
        credentials: CredentialsResolver | None = None,
        outbound: OutboundHttp,
        block_settings: BlockSettings,
        own_runs_only: bool = False,
        observer: ExecutionObserver | None = None,
        tracer: RunTracer | None = None,
    ) -> None:
        self._settings = settings
        self.observer = observer
        self.tracer = tracer
        self.db = db
        self.graphs = graphs
        self.flusher = flusher
        self.bus = bus
        self.owner = owner
        #: What a run's node executions use besides their input (contexts, credentials,
        #: reviews, charges).
        self.services = RunServices(
            db,
            credits=credits,
            credentials=credentials,
            outbound=outbound,
            block_settings=block_settings,
        )
        #: Runs submitted here: the only ones claimed when ``own_runs_only``.
        self.own: set[str] | None = set() if own_runs_only else None
        self.active: dict[str, GraphRun] = {}
        self.claimed: set[str] = set()
        self.interrupted: set[str] = set()
        self.runs = TaskOwner("executions.runs")
        self.stopping = False
        self.started = False
        self._wake = asyncio.Event()
        # Whether queued runs may be waiting for a free worker (see _after_run).
        self._backlog = True

    @property
    def settings(self) -> Settings:
        """Execution settings."""
        return self._settings

    # --- claiming ------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for claimable runs now (queued rows were written)."""
        self._backlog = True
        self._wake.set()

    async def claim_forever(self) -> None:
        """Claim runs while workers are free; sleep until woken or the poll interval."""
        while not self.stopping:
            free = self._settings.graph_workers - len(self.claimed)
            claimed = 0
            if free > 0 and (self.own is None or self.own - self.claimed):
                leased_at = asyncio.get_running_loop().time()
                rows, first_nodes = await self.db.executions.claim(
                    self.owner,
                    limit=free,
                    lease_seconds=self._settings.lease_seconds,
                    user_cap=self._settings.user_max_running,
                    only=None if self.own is None else sorted(self.own - self.claimed),
                )
                self._backlog = False
                for row in rows:
                    self._start(row, first_nodes.get(row.id), leased_at)
                claimed = len(rows)
                self._backlog = claimed == free or self._user_at_cap()
            else:
                self._backlog = True
            if claimed and claimed == free:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval)
            self._wake.clear()

    def _start(self, row: RunRow, nodes: list[NodeRow] | None, leased_at: float) -> None:
        old = self.active.get(row.id)
        if old is not None:  # claimed again after its lease lapsed: the old one is fenced out
            old.lease_lost()
        self.claimed.add(row.id)
        self.runs.spawn(f"run:{row.id}", self._run_claimed(row, nodes, leased_at))

    def reserve(self, runs: Sequence[RunRow], running: dict[str, int]) -> None:
        """Start fresh runs here at once while workers and the users' caps allow.

        Called inside the submit transaction: a run marked RUNNING is written already held
        by this process, so no claim transaction stands between a submit and its start.
        """
        if self.stopping or not self.started:
            return
        now = utcnow()
        lease = now + timedelta(seconds=self._settings.lease_seconds)
        for run in runs:
            if len(self.claimed) >= self._settings.graph_workers:
                return
            if run.parent_node_exec_id is not None or run.status != S.QUEUED:
                continue
            if running.get(run.user_id, 0) >= self._settings.user_max_running:
                continue
            running[run.user_id] = running.get(run.user_id, 0) + 1
            run.status = S.RUNNING.value
            run.lease_owner = self.owner
            run.lease_expires_at = lease
            run.attempts = 1
            run.started_at = now
            self.claimed.add(run.id)

    def unreserve(self, runs: Sequence[RunRow]) -> None:
        """The submit transaction failed or demoted them: forget the starts reserved."""
        for run in runs:
            if run.status == S.RUNNING.value and run.id in self.claimed:
                self.claimed.discard(run.id)
                run.status = S.QUEUED.value
                run.lease_owner = None
                run.lease_expires_at = None
                run.attempts = 0
                run.started_at = None

    def submitted(self, run: RunRow, nodes: list[NodeRow], leased_at: float) -> None:
        """A run written by this process: run it now if reserved, else let a claim find it."""
        if self.own is not None:
            self.own.add(run.id)
        if run.status == S.RUNNING.value:
            self.runs.spawn(f"run:{run.id}", self._run_claimed(run, nodes, leased_at))
        else:
            self.wake()

    def _user_at_cap(self) -> bool:
        users: dict[str, int] = {}
        for run_id in self.claimed:
            run = self.active.get(run_id)
            if run is None:
                return True  # not started yet: its user is unknown here, so assume so
            users[run.user_id] = users.get(run.user_id, 0) + 1
        return any(n >= self._settings.user_max_running for n in users.values())

    # --- running -------------------------------------------------------------------------

    async def _run_claimed(
        self, row: RunRow, nodes: list[NodeRow] | None, leased_at: float
    ) -> None:
        # The run's own task (and its node tasks) log with its ids, blocks' logs included.
        structlog.contextvars.bind_contextvars(
            graph_exec_id=row.id, graph_id=row.graph_id, user_id=row.user_id
        )
        run: GraphRun | None = None
        outcome: BaseException | None = None  # why the run left this process, for the trace
        try:
            graph = await self.graphs.for_run(row.graph_id, row.graph_version, row.user_id)
            if nodes is None:
                nodes = await self.db.executions.load_nodes(row.id, resume=True)
            run = GraphRun(self, row, graph, leased_at=leased_at)
            run.restore(nodes)
            if self.tracer is not None:
                self.tracer.run_started(run)
            if row.attempts > 1:
                log.info("execution.resumed", graph_exec_id=row.id, attempt=row.attempts)
            elif self.observer is not None and row.created_at is not None:
                waited = (run.started_at - row.created_at).total_seconds()
                self.observer.observe_queue_wait(waited)
            self.active[row.id] = run
            if row.stop_requested:
                run.request_stop()
            await run.execute()
            if run.status == S.REVIEW:
                await self._resume_if_decided(run)
            await self._end_parked_children(run)
        except (LeaseLost, RunFailedHard) as exc:
            outcome = exc
        except GraphNotFound as exc:
            await self.end_hard(row.id, S.FAILED, exc.message, epoch=row.attempts)
        except asyncio.CancelledError as exc:
            outcome = exc
            self.interrupted.add(row.id)
            raise
        except Exception as exc:
            outcome = exc
            log.exception("execution.crashed", graph_exec_id=row.id)
            await self.end_hard(
                row.id, S.FAILED, f"internal error: {type(exc).__name__}", epoch=row.attempts
            )
        finally:
            if self.tracer is not None and run is not None:
                self.tracer.run_ended(run, outcome)
            if self.active.get(row.id) is run:
                self.active.pop(row.id, None)
                self.claimed.discard(row.id)
            if self.own is not None and (run is None or (run.finished and not run.lost)):
                self.own.discard(row.id)
            self._after_run()

    async def _resume_if_decided(self, run: GraphRun) -> None:
        """Queue the run settled in REVIEW again if its decisions came while it was busy."""
        try:
            if await self.db.reviews.resume_if_decided(run.id):
                self.wake()
        except Exception:  # the run is durably REVIEW: a later decision still resumes it
            log.exception("execution.review_check_failed", graph_exec_id=run.id)

    async def _end_parked_children(self, run: GraphRun) -> None:
        """End the child runs parked for a review under nodes the run ended without them."""
        for child_id in run.parked_children:
            await self.end_hard(
                child_id, S.TERMINATED, "its parent run ended", epoch=None, unheld_only=True
            )

    async def end_hard(
        self,
        run_id: str,
        status: ExecutionStatus,
        error: str | None,
        *,
        epoch: int | None,
        unheld_only: bool = False,
    ) -> None:
        """End a run outside its flush: its row and node rows, then its event."""
        fence = None if epoch is None else (self.owner, epoch)
        try:
            ended = await self.db.executions.end_run(
                run_id,
                status=status.value,
                error=storable.text(error),
                fence=fence,
                unheld_only=unheld_only,
            )
        except Exception:
            log.exception("execution.end_failed", graph_exec_id=run_id)
            return
        if ended is not None:
            log.info("execution.ended", graph_exec_id=run_id, status=status.value, error=error)
            event = ExecutionEvent("graph", run_view(ended))
            self.bus.publish([event])
            # Other processes' subscribers (an api role's /ws) hear of it too.
            with contextlib.suppress(Exception):
                payloads = encode_notifications(self.owner, [event])
                await self.db.executions.notify(EVENTS_CHANNEL, payloads)

    def poisoned(self, run: GraphRun, reason: str) -> None:
        """The flusher cannot store the run's rows: fail the run alone, outside its flush."""
        run.lease_lost(RunFailedHard(reason))
        for child in [r for r in self.active.values() if r.parent is run]:
            child.lease_lost(RunFailedHard(reason))
        message = f"the run's data could not be stored: {reason}"
        self.runs.spawn(
            f"poisoned:{run.id}", self.end_hard(run.id, S.FAILED, message, epoch=run.epoch)
        )

    def _after_run(self) -> None:
        """A worker is free: look for queued runs if some may be waiting for one.

        On SQLite this process is the only one starting runs, so it knows: runs wait for a
        worker only if the last claim filled every free one, a user was at the cap, or runs
        were queued since. Across PostgreSQL processes a run ending elsewhere may have
        freed a cap, so a claim always follows there. The claim waits a moment so that the
        events that just ended this run go out first.
        """
        if self._backlog or self.db.is_postgres:
            asyncio.get_running_loop().call_later(CLAIM_AFTER_RUN, self._wake.set)

    # --- leases --------------------------------------------------------------------------

    async def renew_forever(self) -> None:
        """Renew the leases of held runs; a run not renewed is lost (another took it)."""
        interval = min(self._settings.lease_seconds / 3, 0.5)
        while True:
            await asyncio.sleep(interval)
            runs = [r for r in self.active.values() if not r.done.done()]
            if not runs:
                continue
            sent_at = asyncio.get_running_loop().time()
            held = await self.db.executions.write(
                self.owner,
                lease_seconds=self._settings.lease_seconds,
                fences=[(r.id, r.epoch) for r in runs],
            )
            for run in runs:
                if run.done.done():
                    continue
                if run.id not in held:
                    if not run.finished or run.lost:
                        run.lease_lost()
                    continue
                run.lease_confirmed(sent_at)
                if held[run.id]:
                    run.request_stop()

    def stop_requested(self, run_id: str) -> bool:
        """Tell the run here to stop; False when this process does not hold it."""
        run = self.active.get(run_id)
        if run is None:
            return False
        run.request_stop()
        return True

    # --- children ------------------------------------------------------------------------

    async def reap_forever(self) -> None:
        """Fail child runs whose process died (their parents resume and start new ones)."""
        while True:
            await asyncio.sleep(REAP_EVERY)
            grace = timedelta(seconds=self._settings.lease_seconds)
            for child in await self.db.executions.orphaned_children(utcnow() - grace):
                if child.id not in self.active:
                    await self.end_hard(
                        child.id, S.FAILED, "the process running it stopped", epoch=None
                    )

    async def start_child(
        self,
        parent: GraphRun,
        nr: NodeRun,
        *,
        graph_id: str,
        graph_version: int,
        inputs: dict[str, Any],
    ) -> GraphRun:
        """Start a child run for a sub-agent node, held by this process like its parent."""
        graph = await self.graphs.for_user(parent.user_id, graph_id, graph_version, fresh=False)
        validate_run_inputs(graph.graph, inputs, self.graphs.blocks)
        run, nodes = new_run_rows(
            parent.user_id,
            graph,
            storable.sanitize(inputs),
            parent=nr.id,
            owner=self.owner,
            lease_seconds=self._settings.lease_seconds,
        )
        leased_at = asyncio.get_running_loop().time()
        await self.db.executions.submit([run], nodes)
        child = self._host_child(parent, run, graph, nodes, leased_at)
        log.info("execution.child_started", graph_exec_id=child.id, parent=parent.id)
        return child

    async def resume_child(self, parent: GraphRun, nr: NodeRun, child_id: str) -> GraphRun | None:
        """Take back the child run the node parked on, under this process's lease."""
        leased_at = asyncio.get_running_loop().time()
        found = await self.db.reviews.resume_child(
            child_id, nr.id, owner=self.owner, lease_seconds=self._settings.lease_seconds
        )
        if found.waiting:
            raise ReviewRequired(f"sub-agent run {child_id} is waiting for a review")
        if found.row is None or found.nodes is None:
            return None
        row = found.row
        graph = await self.graphs.for_run(row.graph_id, row.graph_version, row.user_id)
        child = self._host_child(parent, row, graph, found.nodes, leased_at)
        log.info("execution.child_resumed", graph_exec_id=child.id, parent=parent.id)
        return child

    def _host_child(
        self,
        parent: GraphRun,
        row: RunRow,
        graph: CompiledGraph,
        nodes: Sequence[NodeRow],
        leased_at: float,
    ) -> GraphRun:
        child = GraphRun(self, row, graph, leased_at=leased_at, parent=parent)
        child.child_outputs = asyncio.Queue()
        child.restore(nodes)
        self.active[child.id] = child
        self.runs.spawn(f"child:{child.id}", self._run_child(child))
        return child

    async def abandon_child(self, child: GraphRun, reason: str) -> None:
        """End a parked child run TERMINATED (no node will take it back)."""
        await self.end_hard(child.id, S.TERMINATED, reason, epoch=None, unheld_only=True)

    async def subgraph(self, run: GraphRun, graph_id: str, graph_version: int) -> Graph:
        """A graph a node of ``run`` runs as a sub-agent, as the run's user may see it."""
        compiled = await self.graphs.for_user(run.user_id, graph_id, graph_version, fresh=False)
        return compiled.graph

    async def _run_child(self, child: GraphRun) -> None:
        structlog.contextvars.bind_contextvars(
            graph_exec_id=child.id, graph_id=child.graph_id, user_id=child.user_id
        )
        outcome: BaseException | None = None
        if self.tracer is not None:
            self.tracer.run_started(child)
        try:
            await child.execute()
            await self._end_parked_children(child)
        except (LeaseLost, RunFailedHard) as exc:
            outcome = exc
        except BaseException as exc:  # noted for the trace, then on as before
            outcome = exc
            raise
        finally:
            if self.tracer is not None:
                self.tracer.run_ended(child, outcome)
            if self.active.get(child.id) is child:
                self.active.pop(child.id, None)
            if child.child_outputs is not None:
                child.child_outputs.put_nowait(None)

    # --- RunHost -------------------------------------------------------------------------

    def mark_dirty(self, run: GraphRun) -> None:
        """The run has changes to write."""
        self.flusher.mark(run)

    def node_ended(self, run: GraphRun, nr: NodeRun, block: str) -> None:
        """Report a node execution's end to the metrics and the trace."""
        if self.observer is not None:
            walltime = float(nr.stats.get("walltime", 0.0))
            self.observer.observe_node_end(block, nr.status.value, walltime)
        if self.tracer is not None:
            self.tracer.node_ended(run, nr, block)

    # --- stopping ------------------------------------------------------------------------

    def held_ids(self) -> set[str]:
        """Runs this process holds or was running when stopped (to hand back)."""
        return set(self.interrupted) | set(self.claimed) | set(self.active)
