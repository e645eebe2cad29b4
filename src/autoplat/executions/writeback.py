"""How a run hands its buffered changes to the flusher, and learns they are durable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import BlockType
from autoplat.executions.events import ExecutionEvent
from autoplat.executions.results import run_stats
from autoplat.executions.state import FlushPart, NodeRun
from autoplat.executions.status import TERMINAL, ExecutionStatus
from autoplat.graphs.schema import io_name

if TYPE_CHECKING:
    from autoplat.executions.executor import GraphRun

S = ExecutionStatus


def collect(run: GraphRun) -> FlushPart:
    """Take the rows that may be written now (their inputs' sources are durable)."""
    done = set(run.durable_done)
    rows: list[dict[str, Any]] = []
    taken: list[tuple[NodeRun, int, int]] = []
    events: list[ExecutionEvent] = []
    blocked = False
    for nr in sorted(run.dirty_nodes, key=lambda n: n.seq):
        if not nr.deps <= done:
            blocked = True
            continue
        rows.append(nr.row())
        taken.append((nr, nr.version, len(nr.events)))
        events.extend(nr.events)
        if nr.status in TERMINAL:
            done.add(nr.id)
    run_row = None
    run_events = 0
    if run.run_version != run.run_flushed_version and not (run.finished and blocked):
        run_row = {
            "id": run.id,
            "status": run.status.value,
            "outputs": run.outputs,
            "stats": run_stats(run),
            "error": run.error,
            "ended_at": run.ended_at,
        }
    if run_row is not None or not run.finished:
        # Graph events go out in order, the terminal one only with the terminal row.
        run_events = len(run.run_events)
        ending = [e for e in run.run_events if e.status in TERMINAL]
        events[:0] = [e for e in run.run_events if e.status not in TERMINAL]
        events.extend(ending)
    return FlushPart(run, rows, taken, run_row, run.run_version, run_events, events, done)


def flushed(run: GraphRun, part: FlushPart, stop_requested: bool) -> None:
    """The rows of ``part`` are durable: forget them and release what waited on them."""
    run.durable_done = part.durable_done
    for nr, version, n_events in part.taken:
        nr.flushed_version = version
        del nr.events[:n_events]
        if not nr.dirty:
            run.dirty_nodes.discard(nr)
        nr.deps.clear()
        if run.child_outputs is not None and nr.status == S.COMPLETED:
            relay_child_output(run, nr)
    if part.run_row is not None:
        run.run_flushed_version = part.run_version
    del run.run_events[: part.run_events]
    if run.dirty_nodes or run.run_version != run.run_flushed_version:
        run.manager.flusher.mark(run)
    elif run.finished and not run.done.done():
        if run.child_outputs is not None:
            run.child_outputs.put_nowait(None)
        run.done.set_result(None)
    if stop_requested:
        run.request_stop()


def relay_child_output(run: GraphRun, nr: NodeRun) -> None:
    cnode = run.graph.nodes.get(nr.node_id)
    if cnode is None or cnode.block_type != BlockType.OUTPUT or run.child_outputs is None:
        return
    name = nr.input_data.get("name") or io_name(cnode.node)
    for value in nr.output_data.get("output", []):
        run.child_outputs.put_nowait((str(name), value))
