"""GraphRun: executes ONE graph execution in memory, with the semantics of blocks.md §1.

Link values wait for the node executions they feed in :class:`~.inputs.PinQueues` (each
non-static pin a FIFO, static links keeping their latest value); a node execution is
queued once every gated pin has a value. Charges are keyed by :class:`~.charges.ChargeKeys`.

A run talks to the rest of the platform only through :class:`~.host.RunHost` (block
contexts, charges, child runs, the flusher) and writes only through its
:class:`~.journal.RunJournal`. It
starts or charges nothing unless it holds a confirmed lease: after a lost lease, or a
pause (SIGSTOP, a long GC) past the lease's end, it waits for a renewal and stops at once
when the renewal says another process took the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from autoplat.blocks.base import BlockType, ReviewRequired
from autoplat.blocks.convert import to_json_safe
from autoplat.blocks.outbound import REQUEST_GUARD
from autoplat.blocks.tooling import TOOLS_KEY, ToolRunStopped
from autoplat.db import storable
from autoplat.db.rows import NodeRow, RunRow, RunWrite
from autoplat.db.types import utcnow
from autoplat.errors import (
    InsufficientCredits,
    PinPathError,
    TransientBlockError,
)
from autoplat.executions.charges import ChargeKeys
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.graph import CompiledGraph, CompiledNode, Edge, assemble_input
from autoplat.executions.host import LeaseLost, RunHost, error_message, new_id
from autoplat.executions.inputs import PinQueues
from autoplat.executions.journal import PART_BYTES, JournalPart, RunJournal
from autoplat.executions.results import RunTally
from autoplat.executions.state import NodeRun
from autoplat.executions.status import TERMINAL, ExecutionStatus, check_transition
from autoplat.executions.subgraph import CHILD_KEY
from autoplat.executions.tools import NodeTools
from autoplat.graphs.pins import NO_VALUE, parse_execution_output
from autoplat.graphs.schema import io_name
from autoplat.logging import get_logger

log = get_logger("autoplat.executions.run")
#: Where a block leaves the counters it keeps of its own work (``context.extra``).
USAGE_KEY = "llm_usage"
#: The stats key naming the node execution a tool node execution ran inside (agent mode).
TOOL_CALLER = "tool_call_of"
S = ExecutionStatus
#: Share of the lease kept in reserve: work starts only while more than this is left.
LEASE_MARGIN = 0.1
#: Unwritten node rows a run may hold before it starts nothing more until a flush: without
#: it a fast chain races ahead of the database and its memory follows its history.
PENDING_LIMIT = 1000


class GraphRun:
    """The live state of one run in the process that holds its lease."""

    def __init__(
        self,
        host: RunHost,
        row: RunRow,
        graph: CompiledGraph,
        *,
        leased_at: float,
        parent: GraphRun | None = None,
    ) -> None:
        self.host = host
        self.services = host.services
        self.settings = host.settings
        self.id = row.id
        self.user_id = row.user_id
        self.graph_id = row.graph_id
        self.graph_version = row.graph_version
        self.inputs: dict[str, Any] = dict(row.inputs or {})
        self.credentials_inputs: dict[str, Any] = dict(row.credentials_inputs or {})
        #: The claim count: the epoch that fences every write of this instance.
        self.epoch = max(1, int(row.attempts or 1))
        self.started_at = row.started_at or utcnow()
        self.graph = graph
        self.parent = parent
        self.status = S.RUNNING
        self.error: str | None = None
        self.ended_at: Any = None
        self.journal = RunJournal(self.id, lambda: host.mark_dirty(self))
        self.tally = RunTally()
        self.pins = PinQueues(graph, self._new_node_run, self._set_input)
        self.ready: deque[NodeRun] = deque()
        self.tasks: dict[asyncio.Task[None], NodeRun] = {}
        self.next_seq = 0
        self.failed_nodes = 0
        self.stopping = False
        self.lost = False
        self.fatal: BaseException | None = None
        self.finished = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.child_outputs: asyncio.Queue[tuple[str, Any] | None] | None = None
        self.node_runs_started = 0
        #: Child runs parked for a review under nodes this run ended without them.
        self.parked_children: list[str] = []
        self.charges = ChargeKeys(self.id)
        #: Tool node execution id -> the node id of the node execution it runs inside.
        self.tool_calls: dict[str, str] = {}
        self.lease_deadline = leased_at + self.settings.lease_seconds
        #: node id -> the credential references the run's credentials inputs give it.
        self.masks = host.services.credential_masks(self) if self.credentials_inputs else {}
        self._wake = asyncio.Event()
        self._lease_wake = asyncio.Event()

    # --- restoring from rows -------------------------------------------------------------

    def restore(self, rows: Sequence[NodeRow]) -> None:
        """Rebuild live state from the run's persisted node executions (in seq order).

        Finished ones only feed the tally and the static link values: they stay on disk.
        """
        for row in rows:
            nr = NodeRun(
                id=row.id,
                graph_exec_id=self.id,
                node_id=row.node_id,
                block_id=row.block_id,
                seq=row.seq,
                status=S(row.status),
                input_data=dict(row.input_data or {}),
                created_at=row.created_at or utcnow(),
                output_data={k: list(v) for k, v in (row.output_data or {}).items()},
                error=row.error,
                stats=dict(row.stats or {}),
                started_at=row.started_at,
                ended_at=row.ended_at,
            )
            self.next_seq = max(self.next_seq, nr.seq + 1)
            cnode = self.graph.nodes.get(nr.node_id)
            if nr.status in TERMINAL:
                self.charges.restored(nr)
                self.tally.node_ended(nr, self._output_name(cnode, nr))
                if nr.status == S.FAILED and TOOL_CALLER not in nr.stats:
                    self.failed_nodes += 1
                    self.error = self.error or self._run_error(cnode, nr, nr.error or "")
                if cnode is not None:
                    self._restore_static(cnode, nr)
                continue
            self.journal.add(nr, durable=True)
            if nr.status == S.INCOMPLETE:
                self.pins.add_waiting(nr)
            else:
                self.ready.append(nr)

    def _restore_static(self, cnode: CompiledNode, nr: NodeRun) -> None:
        """The last value each static link of the node carried, in output order."""
        for link in cnode.outgoing:
            if not link.is_static:
                continue
            for pin, values in nr.output_data.items():
                for value in values:
                    carried = self._carried((pin, value), link)
                    if carried is not NO_VALUE:
                        self.pins.keep_static(link.sink_id, link.sink_name, carried, nr.id)

    # --- driving -------------------------------------------------------------------------

    async def execute(self) -> None:
        """Run until no node execution can start, then make the end durable."""
        # The claim already made RUNNING durable: its event rides with the next flush.
        self.journal.run_events.append(ExecutionEvent("graph", self.event_data()))
        self.host.mark_dirty(self)
        try:
            await self._drive()
        except asyncio.CancelledError:
            await self._cancel_tasks()
            raise
        if self.lost:
            await self.done  # raises LeaseLost: another process owns the run now
        self._finish()
        await self.done

    async def _drive(self) -> None:
        limit = self.settings.node_concurrency
        while True:
            while self.ready and len(self.tasks) < limit and not self._halted:
                if not self.lease_ok() or len(self.journal.pending) >= PENDING_LIMIT:
                    break  # a renewal or a flush (or the news of a loss) wakes us
                nr = self.ready.popleft()
                if nr.status != S.QUEUED:
                    continue
                task = asyncio.create_task(self._execute(nr), name=f"node:{nr.id}")
                self.tasks[task] = nr
                task.add_done_callback(self._task_done)
            if not self.tasks and (self._halted or not self.ready):
                return
            self._wake.clear()
            await self._wake.wait()

    @property
    def _halted(self) -> bool:
        return self.stopping or self.lost or self.fatal is not None

    def lease_ok(self) -> bool:
        """Whether the lease is confirmed for a while yet (work may start or be charged)."""
        margin = self.settings.lease_seconds * LEASE_MARGIN
        return asyncio.get_running_loop().time() < self.lease_deadline - margin

    def lease_confirmed(self, sent_at: float) -> None:
        """A fenced write sent at ``sent_at`` (loop time) found the lease still ours."""
        deadline = sent_at + self.settings.lease_seconds
        if deadline > self.lease_deadline:
            self.lease_deadline = deadline
        self._lease_wake.set()
        self._wake.set()

    async def _hold_lease(self) -> None:
        """Wait until the lease is confirmed; cancelled when it is lost or the run stops."""
        while not self.lease_ok():
            if self.lost or self.stopping:
                raise asyncio.CancelledError
            self._lease_wake.clear()
            await self._lease_wake.wait()

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
        self._lease_wake.set()

    # --- one node execution --------------------------------------------------------------

    async def _execute(self, nr: NodeRun) -> None:
        cnode = self.graph.nodes[nr.node_id]
        # This node's task (and its block's logs) carry its ids beside the run's.
        structlog.contextvars.bind_contextvars(
            node_id=nr.node_id, node_exec_id=nr.id, block_id=nr.block_id
        )
        # Its block's outbound requests wait for a confirmed lease (a paused process's block
        # resumes mid-run: it must not reach the outside world before the loss is known).
        REQUEST_GUARD.set(self._hold_lease)
        try:
            # A node execution that started before (resumed) already holds its full input.
            # The run's credential references overlay the node's defaults, not its links.
            link_data = {**self.masks.get(nr.node_id, {}), **nr.input_data}
            record = nr.input_data if nr.stats.get("attempts") else assemble_input(cnode, link_data)
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
            await self._hold_lease()
            if cnode.block.is_sensitive_action:
                # Under the graph's sensitive-action safe mode a person approves first
                # (ReviewRequired parks the node), before credentials or charges; approved,
                # the block runs with the input the reviewer approved.
                record = await self.services.review_gate(self, nr, cnode, record)
                nr.input_data = to_json_safe(record)
            credentials = await self.services.credentials_for(self, nr, cnode, record)
            cost = await self.services.charge_node(self, nr, cnode, record)
            if cost:
                nr.stats["cost"] = cost
            await self._run_block(nr, cnode, record, credentials)
            await self._charge_time(nr, cnode, record, began)
        except asyncio.CancelledError:
            if not self.stopping or self.lost:
                raise  # drained or lease lost: the row stays as it is durably
            self._end(nr, S.TERMINATED, began)
            return
        except ReviewRequired:
            # Parked for a person: the node stays unfinished, its run will settle as REVIEW.
            nr.stats["walltime"] = round(time.perf_counter() - began, 6)
            self._transition(nr, S.REVIEW)
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
        cost = await self.services.charge_duration(self, nr, cnode, record, seconds)
        if cost:
            nr.stats["cost"] = int(nr.stats.get("cost", 0)) + cost

    def _timeout(self, cnode: CompiledNode) -> float:
        override = cnode.node.metadata.get("timeout")
        if isinstance(override, int | float) and not isinstance(override, bool) and override > 0:
            return float(override)
        return float(cnode.block.timeout or self.settings.node_timeout)

    async def _run_block(
        self,
        nr: NodeRun,
        cnode: CompiledNode,
        record: dict[str, Any],
        credentials: Mapping[str, Any],
    ) -> None:
        context = self.services.block_context(self, nr, credentials)
        if cnode.tool_sinks:
            context.extra[TOOLS_KEY] = NodeTools(self, nr, cnode)
        retries = self.settings.node_retries
        attempt = 0
        while True:
            try:
                try:
                    async with asyncio.timeout(self._timeout(cnode)):
                        async for pin, value in cnode.block.execute(record, context):
                            if self.lost:
                                raise asyncio.CancelledError  # nothing more of it may count
                            self._on_output(nr, cnode, pin, value)
                finally:
                    # What the block measured of itself (LLM calls and tokens) joins the stats.
                    usage = context.extra.get(USAGE_KEY)
                    if isinstance(usage, dict):
                        nr.stats.update(usage)
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
        cnode = self.graph.nodes.get(nr.node_id)
        self.host.node_ended(self, nr, cnode.block.name if cnode is not None else nr.block_id)

    def _fail(
        self, nr: NodeRun, cnode: CompiledNode, message: str, began: float | None = None
    ) -> None:
        nr.error = message
        if nr.id not in self.tool_calls:  # a tool's failure is its caller's to handle
            self.failed_nodes += 1
            if self.error is None:
                self.error = self._run_error(cnode, nr, message)
        self._on_output(nr, cnode, "error", message, announce=False)
        self._end(nr, S.FAILED, began)
        log.info("node.failed", graph_exec_id=self.id, node_exec_id=nr.id, error=message)

    @staticmethod
    def _run_error(cnode: CompiledNode | None, nr: NodeRun, message: str) -> str:
        name = cnode.block.name if cnode is not None else nr.block_id
        return f"{name} ({nr.node_id}): {message}"

    def _transition(self, nr: NodeRun, status: ExecutionStatus) -> None:
        nr.status = check_transition(nr.status, status)
        nr.events.append(ExecutionEvent("node", nr.event_data(self)))
        self.journal.touch(nr)
        if status in TERMINAL:
            cnode = self.graph.nodes.get(nr.node_id)
            self.tally.node_ended(nr, self._output_name(cnode, nr))

    @staticmethod
    def _output_name(cnode: CompiledNode | None, nr: NodeRun) -> str | None:
        if cnode is None or cnode.block_type != BlockType.OUTPUT:
            return None
        name = nr.input_data.get("name") or io_name(cnode.node)
        return name if isinstance(name, str) else None

    # --- routing -------------------------------------------------------------------------

    def _on_output(
        self, nr: NodeRun, cnode: CompiledNode, pin: str, value: Any, *, announce: bool = True
    ) -> None:
        value = to_json_safe(value)
        nr.output_data.setdefault(pin, []).append(value)
        if announce:
            self.journal.event(nr, ExecutionEvent("node", nr.event_data(self, (pin, value))))
        # A tool run in agent mode answers its caller's block, not the caller's node.
        caller = self.tool_calls.get(nr.id) if self.tool_calls else None
        for link in cnode.outgoing:
            if link.sink_id == caller:
                continue
            carried = self._carried((pin, value), link)
            if carried is not NO_VALUE:
                self._deliver(link.sink_id, link.sink_name, link.is_static, carried, nr.id)

    def _carried(self, output: tuple[str, Any], link: Edge) -> Any:
        try:
            return parse_execution_output(output, link.source_name, link.sink_id, link.sink_name)
        except (PinPathError, ValueError, IndexError) as exc:
            log.info("link.dropped", graph_exec_id=self.id, link_id=link.id, error=str(exc))
            return NO_VALUE

    def _deliver(self, sink_id: str, pin: str, static: bool, value: Any, source: str) -> None:
        for nr in self.pins.deliver(sink_id, pin, static, value, source):
            self._transition(nr, S.QUEUED)
            self.ready.append(nr)
            self._wake.set()

    async def run_tool_node(
        self, caller: NodeRun, node_id: str, inputs: Mapping[str, Any]
    ) -> NodeRun:
        """Run ``node_id`` now as a tool of ``caller``, inside the caller's execution.

        A real node execution (recorded, charged, bounded by its own timeout) whose outputs
        do not flow back into the caller's node and whose failure is the caller's to handle.
        Raises CancelledError when the run stops or is lost meanwhile, ToolRunStopped when
        it cannot go on (credits ran out).
        """
        cnode = self.graph.nodes[node_id]
        nr = self._new_node_run(cnode)
        nr.stats[TOOL_CALLER] = caller.id
        self.pins.fill_statics(cnode, nr, unless=set(inputs))
        # Fed by the caller: the row becomes durable only with the caller's end (a resumed
        # caller runs again from its start, tool calls included).
        for pin, value in inputs.items():
            self._set_input(nr, pin, value, caller.id)
        self._transition(nr, S.QUEUED)
        self.tool_calls[nr.id] = caller.node_id
        try:
            await self._execute(nr)
        except asyncio.CancelledError:
            # The caller timed out or is cancelled: the tool ends with it, not RUNNING for ever
            # (its row is written only with the caller's end, or not at all).
            if nr.status not in TERMINAL:
                self._end(nr, S.TERMINATED)
            raise
        finally:
            self.tool_calls.pop(nr.id, None)
        if self.stopping or self.lost:
            raise asyncio.CancelledError
        if self.fatal is not None:
            raise ToolRunStopped(f"the run cannot go on: {error_message(self.fatal)}")
        return nr

    def _set_input(self, nr: NodeRun, pin: str, value: Any, source: str) -> None:
        nr.input_data[pin] = value
        if self.journal.feeds(source):
            nr.deps.add(source)
        self.journal.touch(nr)

    def _new_node_run(self, cnode: CompiledNode) -> NodeRun:
        nr = NodeRun(
            id=new_id(),
            graph_exec_id=self.id,
            node_id=cnode.id,
            block_id=cnode.block.id,
            seq=self.next_seq,
            status=S.INCOMPLETE,
            input_data={},
            created_at=utcnow(),
        )
        self.next_seq += 1
        self.journal.add(nr)
        return nr

    # --- the end -------------------------------------------------------------------------

    def _finish(self) -> None:
        now = utcnow()
        parked = [nr for nr in self.journal.live.values() if nr.status == S.REVIEW]
        if self.stopping:
            status = S.TERMINATED
        elif self.failed_nodes or self.fatal is not None:
            status = S.FAILED
        elif parked:
            status = S.REVIEW  # nothing else can run: wait for the person, holding no worker
        else:
            status = S.COMPLETED
        if self._halted or status in (S.TERMINATED, S.FAILED):
            for nr in list(self.journal.live.values()):
                if nr.status in (S.QUEUED, S.INCOMPLETE, S.REVIEW) and (
                    self._halted or nr.status == S.REVIEW
                ):
                    nr.ended_at = now
                    child = nr.stats.get(CHILD_KEY) if nr.status == S.REVIEW else None
                    if isinstance(child, str):
                        self.parked_children.append(child)  # the host ends it: none resumes it
                    self._transition(nr, S.TERMINATED)
        self.status = status
        self.ended_at = None if status == S.REVIEW else now
        self.finished = True
        self.journal.run_changed(ExecutionEvent("graph", self.event_data()))
        log.info(
            "execution.finished",
            graph_exec_id=self.id,
            status=status.value,
            nodes=self.tally.ran,
            walltime=round((now - self.started_at).total_seconds(), 4),
        )

    def stats(self) -> dict[str, Any]:
        """Run statistics (AutoGPT names beside ours)."""
        return self.tally.stats(self.started_at, self.ended_at or utcnow(), self.epoch)

    def event_data(self) -> dict[str, Any]:
        """A ``graph_execution_event`` payload."""
        return {
            "event_type": "graph_execution_update",
            "id": self.id,
            "graph_exec_id": self.id,
            "user_id": self.user_id,
            "graph_id": self.graph_id,
            "graph_version": self.graph_version,
            "preset_id": None,
            "status": self.status.value,
            "inputs": self.inputs,
            "outputs": self.tally.outputs if self.finished else {},
            "stats": self.stats() if self.finished else {},
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }

    def run_write(self) -> RunWrite:
        """The run row's changed columns, encoded."""
        return RunWrite(
            id=self.id,
            status=self.status.value,
            outputs=storable.dumps(self.tally.outputs if self.finished else {}),
            stats=storable.dumps(self.stats() if self.finished else {}),
            error=storable.text(self.error),
            ended_at=self.ended_at,
        )

    # --- flushing (called by the Flusher) ------------------------------------------------

    def collect(self, budget: int = PART_BYTES) -> JournalPart:
        """Take the rows that may be written now (see RunJournal.collect)."""
        return self.journal.collect(self.run_write, final=self.finished, budget=budget)

    def flushed(self, part: JournalPart, stop_requested: bool, sent_at: float) -> None:
        """``part`` is durable: forget it, release what waited on it, relay child outputs."""
        self.lease_confirmed(sent_at)
        for nr in self.journal.flushed(part):
            if self.child_outputs is not None:
                self._relay_child_output(nr)
        if not self.journal.idle:
            self.host.mark_dirty(self)
        elif self.finished and not self.done.done():
            if self.child_outputs is not None:
                self.child_outputs.put_nowait(None)
            self.done.set_result(None)
        if stop_requested:
            self.request_stop()

    def _relay_child_output(self, nr: NodeRun) -> None:
        name = self._output_name(self.graph.nodes.get(nr.node_id), nr)
        if name is None or nr.status != S.COMPLETED or self.child_outputs is None:
            return
        for value in nr.output_data.get("output", []):
            self.child_outputs.put_nowait((name, value))

    def lease_lost(self, reason: Exception | None = None) -> None:
        """Another process took the run over (or ``reason``): stop at once, write nothing."""
        if self.lost:
            return
        if reason is None:
            log.warning("execution.lease_lost", graph_exec_id=self.id)
        self.lost = True
        self.finished = True
        for task in list(self.tasks):
            task.cancel()
        self._wake.set()
        self._lease_wake.set()
        if not self.done.done():
            self.done.set_exception(reason or LeaseLost(self.id))
        self.done.exception()  # mark retrieved: the owner may already be gone
        if self.child_outputs is not None:
            self.child_outputs.put_nowait(None)
