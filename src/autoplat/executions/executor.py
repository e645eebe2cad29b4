"""GraphRun: executes ONE graph execution in memory, with the semantics of blocks.md §1.

Each non-static input pin is a FIFO: a value fills the earliest waiting execution of the
sink node that lacks that pin (or starts a new one); a node execution is queued once every
linked pin has a value; static links keep their latest value for later executions. Every
change is buffered and written by the process's :class:`~autoplat.executions.flusher.Flusher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import BlockContext, BlockType
from autoplat.blocks.convert import to_json_safe
from autoplat.db.types import utcnow
from autoplat.errors import (
    AutoplatError,
    InsufficientCredits,
    PinPathError,
    TransientBlockError,
)
from autoplat.executions import writeback
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.graph import CompiledGraph, CompiledNode, assemble_input
from autoplat.executions.results import collect_outputs, run_event_data, run_stats
from autoplat.executions.state import FlushPart, NodeRun
from autoplat.executions.status import TERMINAL, ExecutionStatus, check_transition
from autoplat.executions.subgraph import SubgraphRunner
from autoplat.graphs.pins import NO_VALUE, parse_execution_output
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.executions.manager import ExecutionManager

log = get_logger("autoplat.executions.executor")
S = ExecutionStatus


def new_id() -> str:
    """A fresh execution id."""
    return str(uuid.uuid4())


def error_message(exc: BaseException) -> str:
    """The message a failed node records."""
    if isinstance(exc, AutoplatError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class GraphRun:
    """The live state of one run in the process that holds its lease."""

    def __init__(
        self,
        manager: ExecutionManager,
        row: Any,
        graph: CompiledGraph,
        *,
        parent: GraphRun | None = None,
    ) -> None:
        self.manager = manager
        self.settings = manager.settings
        self.id: str = row.id
        self.user_id: str = row.user_id
        self.graph_id: str = row.graph_id
        self.graph_version: int = row.graph_version
        self.inputs: dict[str, Any] = dict(row.inputs or {})
        self.attempts: int = int(getattr(row, "attempts", 1) or 1)
        self.started_at = row.started_at or utcnow()
        self.graph = graph
        self.parent = parent
        self.status = S.RUNNING
        self.error: str | None = None
        self.outputs: dict[str, list[Any]] = {}
        self.ended_at: Any = None
        self.nodes: dict[str, NodeRun] = {}
        self.order: list[NodeRun] = []
        self.waiting: dict[str, list[NodeRun]] = {}
        self.static: dict[str, dict[str, tuple[Any, str]]] = {}
        self.ready: deque[NodeRun] = deque()
        self.tasks: dict[asyncio.Task[None], NodeRun] = {}
        self.durable_done: set[str] = set()
        self.dirty_nodes: set[NodeRun] = set()
        self.run_version = 1
        self.run_flushed_version = 1
        self.run_events: list[ExecutionEvent] = []
        self.stopping = False
        self.fatal: BaseException | None = None
        self.finished = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.child_outputs: asyncio.Queue[tuple[str, Any] | None] | None = None
        self.charged = 0
        self.node_runs_started = 0
        self._wake = asyncio.Event()

    # --- restoring from rows -------------------------------------------------------------

    def restore(self, rows: Sequence[Any]) -> None:
        """Rebuild live state from the run's persisted node executions."""
        for row in rows:
            nr = NodeRun(
                id=row.id,
                graph_exec_id=self.id,
                node_id=row.node_id,
                block_id=row.block_id,
                seq=row.seq,
                status=S(row.status),
                input_data=dict(row.input_data or {}),
                created_at=row.created_at,
                output_data={k: list(v) for k, v in (row.output_data or {}).items()},
                error=row.error,
                stats=dict(row.stats or {}),
                started_at=row.started_at,
                ended_at=row.ended_at,
                version=0,
            )
            self.nodes[nr.id] = nr
            self.order.append(nr)
            if nr.status in TERMINAL:
                self.durable_done.add(nr.id)
            elif nr.status == S.INCOMPLETE:
                self.waiting.setdefault(nr.node_id, []).append(nr)
            else:
                self.ready.append(nr)
        self._restore_static()

    def _restore_static(self) -> None:
        """Static link values: the last value each static link carried, in output order."""
        for nr in self.order:
            cnode = self.graph.nodes.get(nr.node_id)
            if cnode is None or nr.status not in TERMINAL:
                continue
            for link in cnode.outgoing:
                if not link.is_static:
                    continue
                for pin, values in nr.output_data.items():
                    for value in values:
                        carried = self._carried((pin, value), link)
                        if carried is not NO_VALUE:
                            self.static.setdefault(link.sink_id, {})[link.sink_name] = (
                                carried,
                                nr.id,
                            )

    # --- driving -------------------------------------------------------------------------

    async def execute(self) -> None:
        """Run until no node execution can start, then make the end durable."""
        # The claim already made RUNNING durable: its event rides with the next flush.
        self.run_events.append(ExecutionEvent("graph", self.event_data()))
        try:
            await self._drive()
        except asyncio.CancelledError:
            await self._cancel_tasks()
            raise
        if self.done.done():  # the lease was lost: another process owns the run now
            await self.done
        self._finish()
        self.manager.flusher.mark(self)
        await self.done

    async def _drive(self) -> None:
        limit = self.settings.node_concurrency
        while True:
            while self.ready and len(self.tasks) < limit and not self._halted:
                nr = self.ready.popleft()
                if nr.status != S.QUEUED:
                    continue
                task = asyncio.create_task(self._execute(nr), name=f"node:{nr.id}")
                self.tasks[task] = nr
                task.add_done_callback(self._task_done)
            if not self.tasks:
                return
            self._wake.clear()
            await self._wake.wait()

    @property
    def _halted(self) -> bool:
        return self.stopping or self.fatal is not None

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.pop(task, None)
        self._wake.set()

    async def _cancel_tasks(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def request_stop(self) -> None:
        """End the run as TERMINATED: cancel running blocks, start nothing more."""
        if self.stopping or self.finished:
            return
        self.stopping = True
        log.info("execution.stopping", graph_exec_id=self.id)
        for task in list(self.tasks):
            task.cancel()
        self._wake.set()

    # --- one node execution --------------------------------------------------------------

    async def _execute(self, nr: NodeRun) -> None:
        cnode = self.graph.nodes[nr.node_id]
        try:
            # A node execution that started before (resumed) already holds its full input.
            record = (
                nr.input_data if nr.stats.get("attempts") else assemble_input(cnode, nr.input_data)
            )
        except Exception as exc:
            self._transition(nr, S.RUNNING)
            self._fail(nr, cnode, f"invalid input: {error_message(exc)}")
            return
        nr.input_data = to_json_safe(record)
        nr.started_at = utcnow()
        nr.stats["attempts"] = int(nr.stats.get("attempts", 0)) + 1
        self.node_runs_started += 1
        self._transition(nr, S.RUNNING)
        began = time.perf_counter()
        try:
            cost = await self.manager.charge_node(self, nr, cnode, record)
            if cost:
                nr.stats["cost"] = cost
                self.charged += cost
            await self._run_block(nr, cnode, record)
            await self._charge_time(nr, cnode, record, began)
        except asyncio.CancelledError:
            if not self.stopping:
                raise  # drained or lease lost: the row stays as it is durably
            self._end(nr, S.TERMINATED, began)
            return
        except InsufficientCredits as exc:
            self.fatal = exc
            self._fail(nr, cnode, error_message(exc), began)
            return
        except TimeoutError:
            self._fail(nr, cnode, f"timed out after {self._timeout(cnode):g} s", began)
            return
        except Exception as exc:  # a block failing is the node failing, never the platform
            with contextlib.suppress(Exception):  # the time was used even though it failed
                await self._charge_time(nr, cnode, record, began)
            self._fail(nr, cnode, error_message(exc), began)
            return
        self._end(nr, S.COMPLETED, began)

    async def _charge_time(
        self, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any], began: float
    ) -> None:
        """Charge per-second costs once the block's run time is known."""
        seconds = time.perf_counter() - began
        cost = await self.manager.charge_duration(self, nr, cnode, record, seconds)
        if cost:
            nr.stats["cost"] = int(nr.stats.get("cost", 0)) + cost
            self.charged += cost

    def _timeout(self, cnode: CompiledNode) -> float:
        override = cnode.node.metadata.get("timeout")
        if isinstance(override, int | float) and not isinstance(override, bool) and override > 0:
            return float(override)
        return float(cnode.block.timeout or self.settings.node_timeout)

    async def _run_block(self, nr: NodeRun, cnode: CompiledNode, record: dict[str, Any]) -> None:
        context = BlockContext(
            settings=self.manager.block_settings,
            http=self.manager.outbound.client_for(self.user_id),
            user_id=self.user_id,
            graph_id=self.graph_id,
            graph_version=self.graph_version,
            graph_exec_id=self.id,
            node_id=nr.node_id,
            node_exec_id=nr.id,
            subgraphs=SubgraphRunner(self, nr),
        )
        retries = self.settings.node_retries
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self._timeout(cnode)):
                    async for pin, value in cnode.block.execute(record, context):
                        self._on_output(nr, cnode, pin, value)
                return
            except TransientBlockError as exc:
                # Outputs already routed cannot be taken back: only a clean failure retries.
                if attempt >= retries or nr.output_data:
                    raise
                attempt += 1
                nr.stats["retries"] = attempt
                log.info("node.retrying", node_exec_id=nr.id, attempt=attempt, error=exc.message)
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))

    def _end(self, nr: NodeRun, status: ExecutionStatus, began: float | None = None) -> None:
        nr.ended_at = utcnow()
        if began is not None:
            nr.stats["walltime"] = round(time.perf_counter() - began, 6)
        self._transition(nr, status)

    def _fail(
        self, nr: NodeRun, cnode: CompiledNode, message: str, began: float | None = None
    ) -> None:
        nr.error = message
        if self.error is None:
            self.error = f"{cnode.block.name} ({nr.node_id}): {message}"
        self._on_output(nr, cnode, "error", message, announce=False)
        self._end(nr, S.FAILED, began)
        log.info("node.failed", graph_exec_id=self.id, node_exec_id=nr.id, error=message)

    def _transition(self, nr: NodeRun, status: ExecutionStatus) -> None:
        nr.status = check_transition(nr.status, status)
        nr.events.append(ExecutionEvent("node", nr.event_data(self)))
        self._touch(nr)

    def _touch(self, nr: NodeRun) -> None:
        nr.version += 1
        self.dirty_nodes.add(nr)
        self.manager.flusher.mark(self)

    def _touch_run(self) -> None:
        self.run_version += 1
        self.manager.flusher.mark(self)

    # --- routing -------------------------------------------------------------------------

    def _on_output(
        self, nr: NodeRun, cnode: CompiledNode, pin: str, value: Any, *, announce: bool = True
    ) -> None:
        value = to_json_safe(value)
        nr.output_data.setdefault(pin, []).append(value)
        if announce:
            nr.events.append(ExecutionEvent("node", nr.event_data(self, (pin, value))))
        self._touch(nr)
        for link in cnode.outgoing:
            carried = self._carried((pin, value), link)
            if carried is not NO_VALUE:
                self._deliver(link.sink_id, link.sink_name, link.is_static, carried, nr.id)

    def _carried(self, output: tuple[str, Any], link: Any) -> Any:
        try:
            return parse_execution_output(output, link.source_name, link.sink_id, link.sink_name)
        except (PinPathError, ValueError, IndexError) as exc:
            log.info("link.dropped", graph_exec_id=self.id, link_id=link.id, error=str(exc))
            return NO_VALUE

    def _deliver(self, sink_id: str, pin: str, static: bool, value: Any, source: str) -> None:
        sink = self.graph.nodes[sink_id]
        if sink.block_type == BlockType.NOTE:
            return
        waiting = self.waiting.setdefault(sink_id, [])
        target = next((nr for nr in waiting if pin not in nr.input_data), None)
        if target is None:
            target = self._new_node_run(sink, {}, S.INCOMPLETE)
            waiting.append(target)
        self._set_input(target, pin, value, source)
        touched = [target]
        known = self.static.get(sink_id, {})
        for static_pin in sink.static_pins:
            if static_pin not in target.input_data and static_pin in known:
                self._set_input(target, static_pin, *known[static_pin])
        if static:
            self.static.setdefault(sink_id, {})[pin] = (value, source)
            for other in waiting:
                if other is not target and pin not in other.input_data:
                    self._set_input(other, pin, value, source)
                    touched.append(other)
        for nr in touched:
            if sink.linked_pins <= nr.input_data.keys():
                waiting.remove(nr)
                self._transition(nr, S.QUEUED)
                self.ready.append(nr)
                self._wake.set()

    def _set_input(self, nr: NodeRun, pin: str, value: Any, source: str) -> None:
        nr.input_data[pin] = value
        if source not in self.durable_done:
            nr.deps.add(source)
        self._touch(nr)

    def _new_node_run(
        self, cnode: CompiledNode, data: dict[str, Any], status: ExecutionStatus
    ) -> NodeRun:
        seq = self.order[-1].seq + 1 if self.order else 0
        nr = NodeRun(
            id=new_id(),
            graph_exec_id=self.id,
            node_id=cnode.id,
            block_id=cnode.block.id,
            seq=seq,
            status=status,
            input_data=data,
            created_at=utcnow(),
        )
        self.nodes[nr.id] = nr
        self.order.append(nr)
        self.dirty_nodes.add(nr)
        return nr

    # --- the end -------------------------------------------------------------------------

    def _finish(self) -> None:
        now = utcnow()
        for nr in self.order:
            if nr.status in (S.QUEUED, S.INCOMPLETE) and self._halted:
                nr.ended_at = now
                self._transition(nr, S.TERMINATED)
        failed = [nr for nr in self.order if nr.status == S.FAILED]
        if self.stopping:
            status = S.TERMINATED
        elif failed or self.fatal is not None:
            status = S.FAILED
        else:
            status = S.COMPLETED
        self.outputs = collect_outputs(self)
        self.status = status
        self.ended_at = now
        self.finished = True
        self.run_events.append(ExecutionEvent("graph", self.event_data()))
        self._touch_run()
        log.info(
            "execution.finished",
            graph_exec_id=self.id,
            status=status.value,
            nodes=len(self.order),
            walltime=round((now - self.started_at).total_seconds(), 4),
        )

    def stats(self) -> dict[str, Any]:
        """Run statistics (AutoGPT names beside ours)."""
        return run_stats(self)

    def event_data(self) -> dict[str, Any]:
        """A ``graph_execution_event`` payload."""
        return run_event_data(self)

    # --- flushing (called by the Flusher) ------------------------------------------------

    def collect(self) -> FlushPart:
        """Take the rows that may be written now (their inputs' sources are durable)."""
        return writeback.collect(self)

    def flushed(self, part: FlushPart, stop_requested: bool) -> None:
        """The rows of ``part`` are durable: forget them and release what waited on them."""
        writeback.flushed(self, part, stop_requested)

    def lease_lost(self) -> None:
        """Another process took the run over: stop touching it at once, write nothing."""
        log.warning("execution.lease_lost", graph_exec_id=self.id)
        self.finished = True
        for task in list(self.tasks):
            task.cancel()
        if not self.done.done():
            self.done.set_exception(LeaseLost(self.id))
        self.done.exception()  # mark retrieved: the owner may already be gone


class LeaseLost(Exception):
    """The run's lease was taken by another process."""
