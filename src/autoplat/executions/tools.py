"""The tool hook: a node execution runs the nodes linked from its tool pins (agent mode).

The hook is built per node execution for nodes with ``tools_^_…`` links and reaches the block
as ``context.extra[TOOLS_KEY]`` (:func:`autoplat.blocks.tooling.tool_runner`). It describes
the tool nodes (a sub-agent node by its graph's name and description, looked up as the run's
user) and runs one through :meth:`GraphRun.run_tool_node`: a real node execution of the same
run, recorded and charged like any node and bounded by its own timeout, whose outputs do not
flow back into the caller's node (its block consumes them).

Invariants: only nodes linked from the caller's tool pins can be run; arguments the tool's
block would refuse are reported back without starting a node execution; a tool that fails
is an outcome for the caller (the model is told), never the run's failure; a stopped or lost
run raises ``CancelledError`` out of :meth:`run_tool`, a run that cannot go on (credits)
:class:`~autoplat.blocks.tooling.ToolRunStopped`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import BlockType
from autoplat.blocks.tooling import SubAgent, ToolNode, ToolOutcome, UnknownToolNode
from autoplat.executions.graph import CompiledNode, assemble_input
from autoplat.executions.status import ExecutionStatus

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun


class NodeTools:
    """The tool hook of one node execution (``caller``) of ``run``."""

    def __init__(self, run: GraphRun, caller: NodeRun, cnode: CompiledNode) -> None:
        self.run = run
        self.caller = caller
        self.cnode = cnode
        self._nodes: list[ToolNode] | None = None

    async def tool_nodes(self) -> Sequence[ToolNode]:
        """The nodes linked from the caller's tool pins, in link order."""
        if self._nodes is None:
            nodes = []
            for node_id, fields in self.cnode.tool_sinks.items():
                sink = self.run.graph.nodes.get(node_id)
                if sink is None or sink.block_type == BlockType.NOTE:
                    continue
                sub_agent = (
                    await self._sub_agent(sink) if sink.block_type == BlockType.AGENT else None
                )
                nodes.append(
                    ToolNode(
                        node_id,
                        sink.block,
                        tuple(fields),
                        sink.node.input_default,
                        sink.node.metadata,
                        sub_agent,
                    )
                )
            self._nodes = nodes
        return self._nodes

    async def _sub_agent(self, sink: CompiledNode) -> SubAgent:
        data = sink.node.input_default
        graph_id, version = data.get("graph_id"), data.get("graph_version")
        if not isinstance(graph_id, str) or not isinstance(version, int):
            raise UnknownToolNode(f"sub-agent tool node {sink.id} names no graph version")
        graph = await self.run.host.subgraph(self.run, graph_id, version)
        return SubAgent(graph.name, graph.description)

    async def run_tool(self, node_id: str, inputs: Mapping[str, Any]) -> ToolOutcome:
        """Run tool node ``node_id`` with ``inputs`` inside the caller's execution."""
        sink = self.run.graph.nodes.get(node_id)
        if sink is None or node_id not in self.cnode.tool_sinks:
            raise UnknownToolNode(f"node {node_id} is not a tool of node {self.cnode.id}")
        # The static links into the node take part too (run_tool_node sets them the same way).
        known = self.run.pins.statics(node_id)
        statics = {pin: known[pin][0] for pin in sink.static_pins if pin in known}
        problem = _refusal(sink, {**statics, **inputs})
        if problem is not None:
            return ToolOutcome(error=problem)
        nr = await self.run.run_tool_node(self.caller, node_id, inputs)
        outputs = {pin: list(values) for pin, values in nr.output_data.items() if pin != "error"}
        if nr.status == ExecutionStatus.COMPLETED:
            return ToolOutcome(outputs)
        return ToolOutcome(outputs, nr.error or f"the tool ended {nr.status.value}")


def _refusal(sink: CompiledNode, inputs: Mapping[str, Any]) -> str | None:
    """Why the tool's block would refuse ``inputs`` (checked before any node execution).

    A sub-agent's inputs are checked when its child run starts (against the sub-graph).
    """
    try:
        record = assemble_input(sink, inputs)
        if sink.block_type != BlockType.AGENT:
            sink.block.validate_input(record)
    except Exception as exc:  # the block's verdict on the model's arguments, for the model
        return str(exc) or type(exc).__name__
    return None
