"""ExecutionManager: the execution core of one process, composed of its jobs.

- :class:`~autoplat.executions.submit.Submitter` validates and writes new runs;
- :class:`~autoplat.executions.worker.Worker` claims, leases and runs them;
- :class:`~autoplat.executions.flusher.Flusher` writes their changes behind them;
- stopping a run (here or in another process) is :meth:`stop_execution`.

Its critical loops (flusher, claim, lease, listener, notifier, reaper, liveness) are
supervised: restarted with backoff, reported by :meth:`failing` (``/ready``), and a loop
that cannot recover makes the process exit non-zero. One ``stop(timeout)`` bounds the
whole shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings
from autoplat.db.executions import QUEUE_CHANNEL
from autoplat.db.manager import DatabaseManager
from autoplat.errors import ExecutionNotFound
from autoplat.executions.events import EVENTS_CHANNEL, EventBus, ExecutionEvent
from autoplat.executions.flusher import Flusher
from autoplat.executions.graph import CompiledGraph
from autoplat.executions.graphcache import GraphCache
from autoplat.executions.liveness import Liveness, new_worker_id
from autoplat.executions.pglisten import PgListener, asyncpg_dsn
from autoplat.executions.ports import CredentialsResolver, Credits, ExecutionObserver, RunTracer
from autoplat.executions.remote import RemoteEvents
from autoplat.executions.run import GraphRun
from autoplat.executions.status import ExecutionStatus, is_terminal
from autoplat.executions.submit import Submitter
from autoplat.executions.views import run_view
from autoplat.executions.worker import Worker
from autoplat.logging import get_logger
from autoplat.tasks import TaskOwner

log = get_logger("autoplat.executions")
STOP_CHANNEL = "autoplat_stop"


class ExecutionManager:
    """Runs graph executions: submits, claims, leases, runs, writes and stops them."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        blocks: BlockRegistry,
        *,
        credits: Credits | None = None,
        credentials: CredentialsResolver | None = None,
        outbound: OutboundHttp | None = None,
        block_settings: BlockSettings | None = None,
        bus: EventBus | None = None,
        own_runs_only: bool = False,
        runs_work: bool = True,
        observer: ExecutionObserver | None = None,
        tracer: RunTracer | None = None,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        #: False in a process without the worker role (``--role api``/``scheduler``): it
        #: submits, stops and hears events, but never claims, leases or starts a run.
        self.runs_work = runs_work
        self.db = db
        self.graphs = GraphCache(db, blocks)
        self.credits = credits
        self.block_settings = block_settings or BlockSettings.from_settings(settings)
        self.outbound = outbound or OutboundHttp(self.block_settings)
        self._owns_outbound = outbound is None
        self.bus = bus or EventBus()
        #: This process start's identity: never reused, so fencing can trust it.
        self.owner = new_worker_id()
        self.flusher = Flusher(
            db.executions,
            self.bus,
            owner=self.owner,
            lease_seconds=settings.lease_seconds,
            on_poison=lambda run, reason: self.worker.poisoned(run, reason),
            notifier=self._notify,
        )
        self.loops = TaskOwner(
            "executions", on_fatal=on_fatal, max_failures=settings.loop_max_failures
        )
        self.submits = TaskOwner("executions.submit")
        self.worker = Worker(
            settings,
            db,
            self.graphs,
            self.flusher,
            self.bus,
            owner=self.owner,
            credits=credits,
            credentials=credentials,
            outbound=self.outbound,
            block_settings=self.block_settings,
            own_runs_only=own_runs_only,
            observer=observer,
            tracer=tracer,
        )
        self.submitter = Submitter(
            settings, self.graphs, self.worker, self.bus, credits, self.submits, credentials
        )
        self.liveness = Liveness(settings, db, self.owner)
        self.remote = RemoteEvents(self)
        self._listener: PgListener | None = None

    async def _notify(self, channel: str, payloads: list[str]) -> bool:
        """NOTIFY over the listener's connection; False without one (SQLite, not started)."""
        listener = self._listener
        return listener is not None and await listener.notify(channel, payloads)

    @property
    def blocks(self) -> BlockRegistry:
        """The blocks runs may use."""
        return self.graphs.blocks

    @property
    def active(self) -> Mapping[str, GraphRun]:
        """Runs this process holds now, by id."""
        return self.worker.active

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Record this worker, adopt dead workers' runs, start the supervised loops."""
        adopted = await self.liveness.start()
        if self.db.is_postgres:
            self._listener = PgListener(
                asyncpg_dsn(self.settings.resolved_database_url),
                {
                    QUEUE_CHANNEL: lambda _p: self.wake(),
                    STOP_CHANNEL: self._on_stop_notice,
                    EVENTS_CHANNEL: self.remote.on_notification,
                },
                on_reconnect=self._reconnected,
            )
            await self._listener.connect()
            self.loops.supervise("listen", self._listener.watch)
            self.loops.supervise("notify", self.flusher.send_notifications_forever)
            self.loops.supervise("liveness", self.liveness.keep)
        self.loops.supervise("flusher", self.flusher.run_forever)
        if self.runs_work:
            self.loops.supervise("claim", self.worker.claim_forever)
            self.loops.supervise("lease", self.worker.renew_forever)
            self.loops.supervise("reaper", self.worker.reap_forever)
        self.worker.stopping = False
        # Worker.reserve starts runs in the submit only when started: never without the role.
        self.worker.started = self.runs_work
        log.info(
            "executions.started",
            workers=self.settings.graph_workers if self.runs_work else 0,
            worker_id=self.owner,
            adopted=adopted,
        )

    def _reconnected(self, lost_at: datetime) -> None:
        self.wake()
        self.remote.catch_up(lost_at)

    def failing(self) -> list[str]:
        """Critical loops failing now (the process is not ready while any is)."""
        return self.loops.failing()

    async def stop(self, timeout: float) -> None:
        """Drain running work, write it, hand the rest back: all within ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def left(share: float = 1.0) -> float:
            return max(0.0, (deadline - loop.time()) * share)

        self.worker.stopping = True
        self.worker.started = False
        self.worker.wake()
        # Runs get most of the time; what they changed must still be written after them.
        await self.worker.runs.stop(left(0.7))
        await self.submits.stop(left(0.1))
        await self.flusher.drain(left(0.8))
        await self.loops.cancel_all(min(1.0, left()))
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), min(1.0, left()) or 0.01)
        # Runs cut short go back to the queue at once: their leases expire now, so another
        # process resumes them without waiting for the lapse.
        handed_back = self.worker.held_ids()
        if handed_back and left() > 0:
            try:
                await asyncio.wait_for(
                    self.db.executions.expire_leases([self.owner], handed_back), left()
                )
            except Exception:
                log.exception("executions.release_failed")
        if left() > 0:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.liveness.stop(), left())
        if self._owns_outbound:
            await self.outbound.aclose()
        self.worker.active.clear()
        self.worker.claimed.clear()
        log.info("executions.stopped", handed_back=len(handed_back))

    # --- submit --------------------------------------------------------------------------

    async def submit(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        credentials_inputs: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue a run of a graph version (the active one when None); return its id."""
        return await self.submitter.submit(
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            inputs=inputs,
            credentials_inputs=credentials_inputs,
        )

    async def graph_for(
        self, user_id: str, graph_id: str, version: int | None, *, fresh: bool = True
    ) -> CompiledGraph:
        """The user's graph version, compiled; GraphNotFound when missing or foreign."""
        return await self.graphs.for_user(user_id, graph_id, version, fresh=fresh)

    def wake(self) -> None:
        """Look for claimable runs now (queued rows were written)."""
        self.worker.wake()

    # --- stop ----------------------------------------------------------------------------

    async def stop_execution(self, graph_exec_id: str, *, user_id: str) -> None:
        """Ask a run to stop; it ends TERMINATED within a second, wherever it runs."""
        row = await self.db.executions.get_run(graph_exec_id, user_id=user_id)
        if row is None:
            raise ExecutionNotFound(f"execution {graph_exec_id} not found")
        if is_terminal(row.status):
            return
        flagged = await self.db.executions.request_stop(graph_exec_id)
        if self.worker.stop_requested(graph_exec_id):
            pass
        elif flagged is not None and flagged.status in (
            ExecutionStatus.QUEUED,
            ExecutionStatus.REVIEW,
        ):
            # No worker holds it: end it here (a claim that raced us finds the flag).
            await self.worker.end_hard(
                graph_exec_id, ExecutionStatus.TERMINATED, None, epoch=None, unheld_only=True
            )
        else:
            await self.db.executions.notify(STOP_CHANNEL, [graph_exec_id])
        log.info("execution.stop_requested", graph_exec_id=graph_exec_id)

    def _on_stop_notice(self, graph_exec_id: str) -> None:
        self.worker.stop_requested(graph_exec_id)

    def announce(self, events: list[ExecutionEvent]) -> None:
        """Publish events of runs written outside a flush (the scheduler's new runs)."""
        self.bus.publish(events)

    @staticmethod
    def queued_event(run: Any) -> ExecutionEvent:
        """The QUEUED event of a new run row."""
        return ExecutionEvent("graph", run_view(run))
