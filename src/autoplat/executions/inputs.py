"""The input side of one run: where link values wait for the node executions they feed.

blocks.md §1: each non-static input pin of a node is a FIFO. A value fills the earliest
waiting execution of the sink node that lacks that pin, or starts a new one; an execution is
ready once every gated pin has a value (and its block does not ask to wait). A static link
keeps its latest value: it fills every waiting execution lacking that pin and every later
one.

Invariant: an execution is in ``waiting`` until it is ready and then handed out exactly
once; only nodes still waiting for an input are kept (a node whose executions all started
leaves no entry behind), so what stays here grows with the run's frontier, not its history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autoplat.blocks.base import BlockType
from autoplat.executions.graph import CompiledGraph, CompiledNode
from autoplat.executions.state import NodeRun

#: (value, the node execution id that produced it)
Carried = tuple[Any, str]


class PinQueues:
    """Waiting node executions by node, and the values static links last carried."""

    def __init__(
        self,
        graph: CompiledGraph,
        new_run: Callable[[CompiledNode], NodeRun],
        set_input: Callable[[NodeRun, str, Any, str], None],
    ) -> None:
        self.graph = graph
        self._new_run = new_run
        self._set_input = set_input
        self._waiting: dict[str, list[NodeRun]] = {}
        self._static: dict[str, dict[str, Carried]] = {}

    def statics(self, node_id: str) -> dict[str, Carried]:
        """The values the static links into ``node_id`` last carried, by pin."""
        return self._static.get(node_id, {})

    def keep_static(self, node_id: str, pin: str, value: Any, source: str) -> None:
        """Remember the latest value of a static link (restored from a finished node)."""
        self._static.setdefault(node_id, {})[pin] = (value, source)

    def add_waiting(self, nr: NodeRun) -> None:
        """An execution restored as INCOMPLETE waits again for its missing pins."""
        self._waiting.setdefault(nr.node_id, []).append(nr)

    def fill_statics(self, cnode: CompiledNode, nr: NodeRun, *, unless: set[str]) -> None:
        """Give ``nr`` the known static values of its node's pins not in ``unless``."""
        known = self._static.get(cnode.id)
        if not known:
            return
        for pin in cnode.static_pins:
            if pin in known and pin not in unless and pin not in nr.input_data:
                self._set_input(nr, pin, *known[pin])

    def deliver(
        self, sink_id: str, pin: str, static: bool, value: Any, source: str
    ) -> list[NodeRun]:
        """Route one link value to ``sink_id``'s ``pin``; the executions it made ready."""
        sink = self.graph.nodes[sink_id]
        if sink.block_type == BlockType.NOTE:
            return []
        waiting = self._waiting.setdefault(sink_id, [])
        target = next((nr for nr in waiting if pin not in nr.input_data), None)
        if target is None:
            target = self._new_run(sink)
            waiting.append(target)
        self._set_input(target, pin, value, source)
        touched = [target]
        self.fill_statics(sink, target, unless=set())
        if static:
            self.keep_static(sink_id, pin, value, source)
            for other in waiting:
                if other is not target and pin not in other.input_data:
                    self._set_input(other, pin, value, source)
                    touched.append(other)
        ready = []
        for nr in touched:
            if sink.ready(nr.input_data):
                waiting.remove(nr)
                ready.append(nr)
        if not waiting:
            del self._waiting[sink_id]
        return ready
