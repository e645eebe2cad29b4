"""A graph version indexed for execution, and how a node's input record is assembled."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autoplat.blocks.base import Block, BlockType
from autoplat.blocks.builtin.agent import AgentExecutorBlock
from autoplat.blocks.convert import coerce
from autoplat.blocks.registry import BlockRegistry
from autoplat.errors import BlockNotFound
from autoplat.graphs.model import Graph, Node
from autoplat.graphs.pins import is_tool_pin, merge_execution_input
from autoplat.graphs.schema import io_name


@dataclass(slots=True, frozen=True)
class Edge:
    """A link as a run follows it: ``is_static`` already says what the source block implies.

    Compact on purpose: a compiled graph holds one per link, and copying the link models to
    set their flag cost more memory than the rest of the compiled graph.
    """

    id: str
    source_name: str
    sink_id: str
    sink_name: str
    is_static: bool


@dataclass(slots=True, eq=False)
class CompiledNode:
    """A node with its block and links, looked up once per graph version."""

    node: Node
    block: Block[Any]
    outgoing: list[Edge] = field(default_factory=list)
    #: Every ``sink_name`` a link feeds: a node runs only when all of them have data.
    linked_pins: set[str] = field(default_factory=set)
    #: The ``sink_name`` of each static inbound link.
    static_pins: set[str] = field(default_factory=set)
    #: The linked pins a node execution needs before it is queued: ``linked_pins`` less the
    #: ones its block lets arrive later (``ungated_pins``, as AutoGPT's get_missing_links
    #: overrides do: the Orchestrator's tool-loop pins).
    gated_pins: set[str] = field(default_factory=set)
    #: The block's own check of a record that has its gated pins (``input_pending``, as
    #: AutoGPT's get_missing_input overrides): True while it must still wait.
    input_pending: Callable[[Mapping[str, Any]], bool] | None = None
    #: Tool node id -> the fields this node's ``tools_^_…`` links feed, in link order.
    tool_sinks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The node id."""
        return self.node.id

    @property
    def block_type(self) -> BlockType:
        """The block's type (INPUT, OUTPUT, NOTE, AGENT, ...)."""
        return self.block.block_type

    def ready(self, link_data: Mapping[str, Any]) -> bool:
        """Whether a node execution holding ``link_data`` may be queued."""
        if not self.gated_pins <= link_data.keys():
            return False
        pending = self.input_pending
        return pending is None or not pending({**self.node.input_default, **link_data})


@dataclass(slots=True, eq=False)
class CompiledGraph:
    """One graph version ready to run: nodes by id with blocks, links indexed by node."""

    graph: Graph
    nodes: dict[str, CompiledNode]
    starting: list[CompiledNode]

    @property
    def id(self) -> str:
        """The graph id."""
        return self.graph.id

    @property
    def version(self) -> int:
        """The graph version."""
        return self.graph.version

    @classmethod
    def build(cls, graph: Graph, blocks: BlockRegistry) -> CompiledGraph:
        """Index ``graph``; raise BlockNotFound if a node's block is unknown."""
        nodes: dict[str, CompiledNode] = {}
        for node in graph.nodes:
            block = blocks.get(node.block_id)
            if block is None:
                raise BlockNotFound(f"node {node.id} uses unknown block {node.block_id}")
            nodes[node.id] = CompiledNode(node, block)
        for link in graph.links:
            source, sink = nodes.get(link.source_id), nodes.get(link.sink_id)
            if source is None or sink is None:
                continue  # validation reports dangling links; at run time they carry nothing
            # Links leaving static-output blocks are static whatever the saved flag says.
            static = link.is_static or source.block.static_output
            source.outgoing.append(
                Edge(link.id, link.source_name, link.sink_id, link.sink_name, static)
            )
            sink.linked_pins.add(link.sink_name)
            if static:
                sink.static_pins.add(link.sink_name)
            if is_tool_pin(link.source_name):
                fields = source.tool_sinks.setdefault(link.sink_id, [])
                if link.sink_name not in fields:
                    fields.append(link.sink_name)
        for cnode in nodes.values():
            ungated: frozenset[str] = getattr(cnode.block, "ungated_pins", frozenset())
            cnode.gated_pins = cnode.linked_pins - ungated
            cnode.input_pending = getattr(cnode.block, "input_pending", None)
        starting = [
            n
            for n in nodes.values()
            if n.block_type != BlockType.NOTE
            and (n.block_type == BlockType.INPUT or not n.linked_pins)
        ]
        return cls(graph, nodes, starting)

    def starting_data(self, node: CompiledNode, run_inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The link data a starting node begins with: an input node gets its run input."""
        if node.block_type == BlockType.INPUT:
            name = io_name(node.node)
            if name is not None and run_inputs.get(name) is not None:
                return {"value": run_inputs[name]}
        # A webhook trigger gets the delivery's payload (run input "__webhook_payload__").
        payload_pin = getattr(node.block, "webhook_payload_pin", None)
        if payload_pin is not None and run_inputs.get("__webhook_payload__") is not None:
            return {payload_pin: run_inputs["__webhook_payload__"]}
        return {}


def assemble_input(node: CompiledNode, link_data: Mapping[str, Any]) -> dict[str, Any]:
    """The input record a block runs with (blocks.md §1.2).

    Link data overlays ``input_default``, dynamic pins are merged into their containers and
    each value that does not fit its pin's annotation is leniently converted. The sub-agent
    block gets its sub-graph inputs folded into ``inputs``.
    """
    record = merge_execution_input({**node.node.input_default, **link_data})
    if node.block_type == BlockType.AGENT:
        record = AgentExecutorBlock.pack_inputs(record)
    fields = node.block.input_schema.model_fields
    for name, value in record.items():
        info = fields.get(name)
        if info is not None and value is not None:
            record[name] = coerce(value, info.annotation)
    return record
