"""ExecutionManager: the durable execution queue and the workers that run graph executions.

Submitting writes a run and its first node executions in one transaction and wakes a
worker. Workers claim runs from the database under a lease they renew; a run whose lease
lapses (its process died) is claimed again and resumes from its persisted node states.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Mapping
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings
from autoplat.db.executions import QUEUE_CHANNEL
from autoplat.db.manager import DatabaseManager
from autoplat.db.types import utcnow
from autoplat.errors import ExecutionNotFound, GraphNotFound
from autoplat.executions.batcher import SubmitBatcher
from autoplat.executions.events import EVENTS_CHANNEL, EventBus, ExecutionEvent
from autoplat.executions.executor import GraphRun, LeaseLost, new_id
from autoplat.executions.flusher import Flusher
from autoplat.executions.graph import CompiledGraph, CompiledNode
from autoplat.executions.graphcache import GraphCache
from autoplat.executions.pglisten import PgListener, asyncpg_dsn
from autoplat.executions.remote import RemoteEvents
from autoplat.executions.state import NodeRun
from autoplat.executions.status import ExecutionStatus, is_terminal
from autoplat.executions.views import run_view
from autoplat.graphs.validation import validate_run_inputs
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

if TYPE_CHECKING:
    from autoplat.credits.service import CreditService

log = get_logger("autoplat.executions")
STOP_CHANNEL = "autoplat_stop"
#: Seconds between a run's end and the claim for the worker it freed.
CLAIM_AFTER_RUN = 0.001


def random_worker_id() -> str:
    """A process identity that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def stable_worker_id(settings: Settings) -> str | None:
    """An identity that survives a restart (host and fixed port), so a restarted server
    resumes its own runs at once; None when the port is chosen at random."""
    if settings.port == 0:
        return None
    return f"{socket.gethostname()}:{settings.port}"


class ExecutionManager:
    """Claims graph runs from the database and executes them node by node."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        blocks: BlockRegistry,
        *,
        credits: CreditService | None = None,
        outbound: OutboundHttp | None = None,
        block_settings: BlockSettings | None = None,
        bus: EventBus | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.graphs = GraphCache(db, blocks)
        self.credits = credits
        self.block_settings = block_settings or BlockSettings.from_settings(settings)
        self._outbound = outbound
        self.bus = bus or EventBus()
        self.owner = worker_id or random_worker_id()
        self.flusher = Flusher(
            db.executions, self.bus, owner=self.owner, lease_seconds=settings.lease_seconds
        )
        self.active: dict[str, GraphRun] = {}
        self.claimed: set[str] = set()
        self._interrupted: set[str] = set()
        self.loops = TaskOwner("executions")
        self.runs = TaskOwner("executions.runs")
        self._wake = asyncio.Event()
        # Whether queued runs may be waiting for a free worker (see _after_run).
        self._backlog = True
        self._stopping = False
        self._started = False
        self._listener: PgListener | None = None
        self.remote = RemoteEvents(self)
        self.submits = TaskOwner("executions.submit")
        self.batcher = SubmitBatcher(
            db.executions,
            self.submits,
            starter=self._start_now,
            releaser=self._unreserve,
            user_cap=settings.user_max_running,
        )

    @property
    def blocks(self) -> BlockRegistry:
        """The blocks runs may use."""
        return self.graphs.blocks

    @blocks.setter
    def blocks(self, blocks: BlockRegistry) -> None:
        self.graphs = GraphCache(self.db, blocks)

    @property
    def outbound(self) -> OutboundHttp:
        """Outbound HTTP for blocks, a client per user (made on first use when none was given)."""
        if self._outbound is None:
            self._outbound = OutboundHttp(self.block_settings)
        return self._outbound

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt this identity's runs, then start the flusher, claim and lease loops."""
        self._stopping = False
        adopted = await self.db.executions.expire_leases(self.owner)
        if self.db.is_postgres:
            self._listener = PgListener(
                asyncpg_dsn(self.settings.resolved_database_url),
                {
                    QUEUE_CHANNEL: lambda _p: self.wake(),
                    STOP_CHANNEL: self._on_stop_notice,
                    EVENTS_CHANNEL: self.remote.on_notification,
                },
                on_reconnect=self.wake,
            )
            await self._listener.connect()
            self.flusher.notifier = self._listener.notify
            self.loops.spawn("listen", self._listener.watch())
        self.loops.spawn("flusher", self.flusher.run_forever())
        if self.db.is_postgres:
            self.loops.spawn("notify", self.flusher.send_notifications_forever())
        self.loops.spawn("claim", self._claim_loop())
        self.loops.spawn("lease", self._lease_loop())
        self._started = True
        log.info(
            "executions.started",
            workers=self.settings.graph_workers,
            worker_id=self.owner,
            adopted=adopted,
        )

    async def stop(self, timeout: float) -> None:
        """Drain running work for up to ``timeout`` seconds, then hand the rest back."""
        self._stopping = True
        self._started = False
        self._wake.set()
        await self.runs.stop(timeout)
        await self.flusher.drain(min(timeout, 5.0))
        await self.loops.cancel_all()
        if self._listener is not None:
            await self._listener.close()
        # Runs cut short by the drain go back to the queue at once: their leases expire
        # now, so another process resumes them without waiting for the lapse.
        handed_back = set(self._interrupted) | set(self.claimed)
        if handed_back:
            try:
                await self.db.executions.expire_leases(self.owner, handed_back)
            except Exception:
                log.exception("executions.release_failed")
        self.active.clear()
        self.claimed.clear()
        self._interrupted.clear()
        log.info("executions.stopped", handed_back=len(handed_back))

    # --- submit --------------------------------------------------------------------------

    async def submit(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        schedule_id: str | None = None,
        parent_node_exec_id: str | None = None,
        conn: AsyncConnection | None = None,
    ) -> str:
        """Queue a run of a graph version (the active one when None); return its id.

        Validates the run (422), writes the run and its first node executions in one
        transaction (``conn``'s, when given, so a caller can make it atomic with its own
        writes) and wakes a worker.
        """
        graph = await self.graph_for(user_id, graph_id, graph_version)
        run_inputs = dict(inputs or {})
        validate_run_inputs(graph.graph, run_inputs, self.blocks)
        ensure = getattr(self.credits, "ensure_can_run", None)
        if ensure is not None:
            await ensure(user_id)
        run, nodes = self.new_run_rows(
            user_id, graph, run_inputs, schedule_id=schedule_id, parent=parent_node_exec_id
        )
        # Announced as QUEUED even when it starts at once: clients see the usual sequence.
        queued = ExecutionEvent("graph", run_view(SimpleNamespace(**run)))
        if conn is not None:
            await self.db.executions.insert_run(run, nodes, conn=conn)
        else:
            await self.batcher.insert(run, nodes)
        if run["status"] == ExecutionStatus.RUNNING:
            rows = [SimpleNamespace(**n) for n in nodes]
            self.runs.spawn(f"run:{run['id']}", self._run_claimed(SimpleNamespace(**run), rows))
        else:
            self.wake()
        log.info("execution.queued", graph_exec_id=run["id"], graph_id=graph_id, user_id=user_id)
        self.bus.publish([queued])
        return str(run["id"])

    def _start_now(self, runs: list[dict[str, Any]], running: dict[str, int]) -> None:
        """Start fresh runs here at once while workers and the users' caps allow.

        Called inside the submit transaction: a run marked RUNNING is written already held
        by this process, so no claim transaction stands between a submit and its start.
        """
        if self._stopping or not self._started:
            return
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        for run in runs:
            user = run["user_id"]
            if len(self.claimed) >= self.settings.graph_workers:
                return
            if run["parent_node_exec_id"] is not None or run["status"] != "QUEUED":
                continue
            if running.get(user, 0) >= self.settings.user_max_running:
                continue
            running[user] = running.get(user, 0) + 1
            run.update(
                status=ExecutionStatus.RUNNING.value,
                lease_owner=self.owner,
                lease_expires_at=lease,
                attempts=1,
                started_at=now,
            )
            self.claimed.add(run["id"])

    def _unreserve(self, runs: list[dict[str, Any]]) -> None:
        """The submit transaction failed: forget the starts ``_start_now`` reserved."""
        for run in runs:
            if run["status"] == ExecutionStatus.RUNNING.value and run["id"] in self.claimed:
                self.claimed.discard(run["id"])
                run.update(
                    status=ExecutionStatus.QUEUED.value,
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=0,
                    started_at=None,
                )

    def new_run_rows(
        self,
        user_id: str,
        graph: CompiledGraph,
        inputs: dict[str, Any],
        *,
        schedule_id: str | None = None,
        parent: str | None = None,
        status: ExecutionStatus = ExecutionStatus.QUEUED,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The rows of a new run and of its starting node executions."""
        now = utcnow()
        run_id = new_id()
        run: dict[str, Any] = {
            "id": run_id,
            "user_id": user_id,
            "graph_id": graph.id,
            "graph_version": graph.version,
            "status": status.value,
            "inputs": inputs,
            "outputs": {},
            "stats": {},
            "error": None,
            "parent_node_exec_id": parent,
            "schedule_id": schedule_id,
            "lease_owner": None,
            "lease_expires_at": None,
            "stop_requested": False,
            "attempts": 0,
            "created_at": now,
            "started_at": None,
            "ended_at": None,
            "updated_at": now,
        }
        if status == ExecutionStatus.RUNNING:
            lease = now + timedelta(seconds=self.settings.lease_seconds)
            run.update(lease_owner=self.owner, lease_expires_at=lease, attempts=1, started_at=now)
        nodes = [
            self._starting_row(run_id, seq, node, graph.starting_data(node, inputs), now)
            for seq, node in enumerate(graph.starting)
        ]
        return run, nodes

    @staticmethod
    def _starting_row(
        run_id: str, seq: int, node: CompiledNode, data: dict[str, Any], now: Any
    ) -> dict[str, Any]:
        return NodeRun(
            id=new_id(),
            graph_exec_id=run_id,
            node_id=node.id,
            block_id=node.block.id,
            seq=seq,
            status=ExecutionStatus.QUEUED,
            input_data=data,
            created_at=now,
        ).row()

    async def graph_for(
        self, user_id: str, graph_id: str, version: int | None, *, fresh: bool = True
    ) -> CompiledGraph:
        """The user's graph version, compiled; GraphNotFound when missing or foreign."""
        return await self.graphs.for_user(user_id, graph_id, version, fresh=fresh)

    # --- stop ----------------------------------------------------------------------------

    async def stop_execution(self, graph_exec_id: str, *, user_id: str) -> None:
        """Ask a run to stop; it ends TERMINATED within a second, wherever it runs."""
        row = await self.db.executions.get_run(graph_exec_id, user_id=user_id)
        if row is None:
            raise ExecutionNotFound(f"execution {graph_exec_id} not found")
        if is_terminal(row.status):
            return
        flagged = await self.db.executions.request_stop(graph_exec_id)
        run = self.active.get(graph_exec_id)
        if run is not None:
            run.request_stop()
        elif flagged is not None and flagged.status == "QUEUED":
            done = await self.db.executions.get_run(graph_exec_id)
            if done is not None:
                self.bus.publish([ExecutionEvent("graph", run_view(done))])
        else:
            await self.db.executions.notify(STOP_CHANNEL, [graph_exec_id])
        log.info("execution.stop_requested", graph_exec_id=graph_exec_id)

    def _on_stop_notice(self, graph_exec_id: str) -> None:
        run = self.active.get(graph_exec_id)
        if run is not None:
            run.request_stop()

    # --- workers -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            free = self.settings.graph_workers - len(self.claimed)
            claimed = 0
            if free > 0:
                try:
                    rows, first_nodes = await self.db.executions.claim(
                        self.owner,
                        limit=free,
                        lease_seconds=self.settings.lease_seconds,
                        user_cap=self.settings.user_max_running,
                    )
                except Exception:
                    log.exception("claim.failed")
                    rows, first_nodes = [], {}
                    self._backlog = True
                    await asyncio.sleep(self.settings.poll_interval)
                else:
                    self._backlog = False
                for row in rows:
                    self.claimed.add(row.id)
                    nodes = first_nodes.get(row.id)
                    self.runs.spawn(f"run:{row.id}", self._run_claimed(row, nodes))
                claimed = len(rows)
                self._backlog = self._backlog or claimed == free or self._user_at_cap()
            else:
                self._backlog = True
            if claimed and claimed == free:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
            self._wake.clear()

    async def _run_claimed(self, row: Any, nodes: list[Any] | None) -> None:
        # The run's own task (and its node tasks) log with its ids, blocks' logs included.
        structlog.contextvars.bind_contextvars(
            graph_exec_id=row.id, graph_id=row.graph_id, user_id=row.user_id
        )
        try:
            graph = await self.graphs.for_run(row.graph_id, row.graph_version, row.user_id)
            if nodes is None:
                nodes = await self.db.executions.load_nodes(row.id, resume=True)
            run = GraphRun(self, row, graph)
            run.restore(nodes)
            if row.attempts > 1:
                log.info("execution.resumed", graph_exec_id=row.id, attempt=row.attempts)
            self.active[row.id] = run
            if row.stop_requested:
                run.request_stop()
            await run.execute()
        except LeaseLost:
            pass
        except GraphNotFound as exc:
            await self._fail_unstartable(row, exc.message)
        except asyncio.CancelledError:
            self._interrupted.add(row.id)
            raise
        except Exception as exc:
            log.exception("execution.crashed", graph_exec_id=row.id)
            await self._fail_unstartable(row, f"internal error: {exc}")
        finally:
            self.active.pop(row.id, None)
            self.claimed.discard(row.id)
            forget = getattr(self.credits, "forget_execution", None)
            if forget is not None:
                forget(row.id)
            self._after_run()

    async def _fail_unstartable(self, row: Any, message: str) -> None:
        now = utcnow()
        failed = {
            "id": row.id,
            "status": "FAILED",
            "outputs": {},
            "stats": {},
            "error": message,
            "ended_at": now,
        }
        try:
            await self.db.executions.flush(
                self.owner,
                lease_seconds=self.settings.lease_seconds,
                run_ids=[row.id],
                nodes=[],
                runs=[failed],
            )
        except Exception:
            log.exception("execution.fail_write_failed", graph_exec_id=row.id)

    async def _lease_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(self.settings.lease_seconds / 3, 0.5)
        renewed = loop.time()
        while True:
            await asyncio.sleep(interval)
            ids = list(self.active)
            if not ids:
                renewed = loop.time()
                continue
            try:
                held = await self.db.executions.renew(self.owner, ids, self.settings.lease_seconds)
            except Exception:
                log.exception("lease.renew_failed")
                if loop.time() - renewed > self.settings.lease_seconds * 0.75:
                    # Our leases are about to lapse and another process may take the runs
                    # over: stop working on them first, so no run ever runs twice at once.
                    self._abandon_all()
                continue
            renewed = loop.time()
            for run_id in ids:
                run = self.active.get(run_id)
                if run is None or run.done.done():
                    continue
                if run_id not in held:
                    if not run.finished:
                        run.lease_lost()
                elif held[run_id]:
                    run.request_stop()

    def _abandon_all(self) -> None:
        for run in list(self.active.values()):
            if not run.done.done():
                run.lease_lost()

    # --- hooks used by GraphRun ----------------------------------------------------------

    async def charge_node(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> int:
        """Charge one node run to the run's user (InsufficientCredits fails the run)."""
        if self.credits is None:
            return 0
        return await self.credits.charge_node(
            user_id=run.user_id,
            graph_exec_id=run.id,
            node_exec_id=nr.id,
            block=cnode.block,
            input_data=record,
            run_number=run.node_runs_started,
        )

    def wake(self) -> None:
        """Look for claimable runs now (queued rows were written)."""
        self._backlog = True
        self._wake.set()

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

    def _user_at_cap(self) -> bool:
        users: dict[str, int] = {}
        for run_id in self.claimed:
            run = self.active.get(run_id)
            if run is None:
                return True  # not started yet: its user is unknown here, so assume so
            users[run.user_id] = users.get(run.user_id, 0) + 1
        return any(n >= self.settings.user_max_running for n in users.values())

    async def charge_duration(
        self,
        run: GraphRun,
        nr: NodeRun,
        cnode: CompiledNode,
        record: Mapping[str, Any],
        seconds: float,
    ) -> int:
        """Charge a finished node's per-second cost, when its block has one."""
        if self.credits is None or not self.credits.bills_time(cnode.block.id):
            return 0
        return await self.credits.charge_duration(
            user_id=run.user_id,
            graph_exec_id=run.id,
            node_exec_id=nr.id,
            block=cnode.block,
            input_data=record,
            seconds=seconds,
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
        graph = await self.graph_for(parent.user_id, graph_id, graph_version, fresh=False)
        validate_run_inputs(graph.graph, inputs, self.blocks)
        run, nodes = self.new_run_rows(
            parent.user_id, graph, inputs, parent=nr.id, status=ExecutionStatus.RUNNING
        )
        await self.db.executions.insert_run(run, nodes)
        child = GraphRun(self, SimpleNamespace(**run), graph, parent=parent)
        child.child_outputs = asyncio.Queue()
        child.restore([SimpleNamespace(**n) for n in nodes])
        self.active[child.id] = child
        self.runs.spawn(f"child:{child.id}", self._run_child(child))
        log.info("execution.child_started", graph_exec_id=child.id, parent=parent.id)
        return child

    async def _run_child(self, child: GraphRun) -> None:
        structlog.contextvars.bind_contextvars(graph_exec_id=child.id, graph_id=child.graph_id)
        try:
            await child.execute()
        except LeaseLost:
            pass
        finally:
            self.active.pop(child.id, None)
            if child.child_outputs is not None:
                child.child_outputs.put_nowait(None)
