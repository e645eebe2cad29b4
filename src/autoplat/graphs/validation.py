"""Structural validation of a graph against the blocks it uses (no database, no HTTP).

:func:`validate_graph` runs when a graph is created or updated; :func:`validate_run_inputs`
before a run. Both raise :class:`~autoplat.errors.ValidationFailed` (422) listing every
problem, one ``details`` entry each::

    {"graph_id": ..., "node_id": ..., "block_id": ..., "pin": ..., "message": ...}

``pin`` (and ``node_id``/``block_id`` for graph-level problems) may be None; link problems
also carry ``link_id``. ``graph_id`` tells sub-graph problems from the main graph's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from autoplat.blocks.base import Block, BlockType
from autoplat.errors import ValidationFailed
from autoplat.graphs import catalog
from autoplat.graphs.catalog import BlockLookup, json_schema_of
from autoplat.graphs.model import Graph, Link, Node
from autoplat.graphs.pins import is_tool_pin, sanitize_pin_name
from autoplat.graphs.schema import io_name, node_value, pin_schema
from autoplat.graphs.typecheck import incompatibility
from autoplat.integrations.model import is_credentials_key

Detail = dict[str, Any]
# Block types whose required fields must be set when the graph is saved (blocks.md §6).
_CHECKED_ON_SAVE = frozenset({BlockType.INPUT, BlockType.OUTPUT, BlockType.AGENT})
# AgentExecutorBlock fields that reassign_ids always fills in, so validation may run before it.
_SET_BY_IMPORT = frozenset({"user_id", "inputs"})


def _detail(graph: Graph, node: Node | None, pin: str | None, message: str, **extra: Any) -> Detail:
    return {
        "graph_id": graph.id,
        "node_id": node.id if node is not None else None,
        "block_id": node.block_id if node is not None else None,
        "pin": pin,
        "message": message,
        **extra,
    }


def _graphs(graph: Graph) -> tuple[Graph, ...]:
    return (graph, *graph.sub_graphs)


def missing_blocks(graph: Graph, blocks: BlockLookup) -> list[tuple[str, str]]:
    """``(node_id, block_id)`` of every node, sub-graphs included, whose block is unknown."""
    return [
        (node.id, node.block_id)
        for g in _graphs(graph)
        for node in g.nodes
        if blocks.get(node.block_id) is None
    ]


def _schema_pins(schema: Any) -> set[str]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return set(props) if isinstance(props, dict) else set()


def output_pins(node: Node, block: Block[Any]) -> set[str]:
    """Names a link may use (after sanitising) as ``source_name`` of this node."""
    if catalog.is_agent_executor(node):
        return _schema_pins(node.input_default.get("output_schema"))
    return block.output_schema.pin_names()


def input_pins(node: Node, block: Block[Any]) -> set[str]:
    """Names a link may use (after sanitising) as ``sink_name`` of this node."""
    if catalog.is_agent_executor(node):
        return _schema_pins(node.input_default.get("input_schema"))
    return block.input_schema.pin_names()


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _linked_pins(graph: Graph) -> dict[str, set[str]]:
    """For each node id, the (sanitised) pins that some link feeds."""
    linked: dict[str, set[str]] = {}
    for link in graph.links:
        linked.setdefault(link.sink_id, set()).add(sanitize_pin_name(link.sink_name))
    return linked


def _set_pins(node: Node, linked: Mapping[str, set[str]], *, strict: bool = True) -> set[str]:
    """Pins of the node that have a value: a default or an incoming link.

    ``strict`` also treats blank strings as unset (for names, which must mean something).
    """
    defaults = {
        sanitize_pin_name(k)
        for k, v in node.input_default.items()
        if not (_is_blank(v) if strict else v is None)
    }
    return defaults | linked.get(node.id, set())


def _node_errors(graph: Graph, blocks: BlockLookup) -> Iterator[Detail]:
    linked = _linked_pins(graph)
    for node in graph.nodes:
        block = blocks.get(node.block_id)
        if block is None:
            yield _detail(graph, node, None, f"Invalid block {node.block_id} for node #{node.id}")
            continue
        if block.disabled:
            yield _detail(graph, node, None, f"Block {block.name} is disabled")
        if block.block_type in _CHECKED_ON_SAVE:
            unset = block.input_schema.required_pins() - _set_pins(node, linked)
            if catalog.is_agent_executor(node):
                unset -= _SET_BY_IMPORT
            for pin in sorted(unset):
                yield _detail(graph, node, pin, f"required field {pin!r} is not set")
        name = io_name(node) if block.block_type == BlockType.INPUT else None
        if name is not None and (name == "credentials" or name.endswith("_credentials")):
            yield _detail(graph, node, "name", f"input name {name!r} is reserved")


def _duplicate_errors(graph: Graph) -> Iterator[Detail]:
    for node_id, count in Counter(n.id for n in graph.nodes).items():
        if count > 1:
            node = graph.node(node_id)
            yield _detail(graph, node, None, f"duplicate node id {node_id} ({count} nodes)")
    for link_id, count in Counter(lk.id for lk in graph.links).items():
        if count > 1:
            yield _detail(graph, None, None, f"duplicate link id ({count} links)", link_id=link_id)


def _link_errors(graph: Graph, link: Link, blocks: BlockLookup) -> Iterator[Detail]:
    source, sink = graph.node(link.source_id), graph.node(link.sink_id)
    ends = [
        (source, link.source_id, link.source_name, "source"),
        (sink, link.sink_id, link.sink_name, "sink"),
    ]
    for node, node_id, pin, role in ends:
        if node is None:
            message = f"link {role} node {node_id} does not exist"
            yield {**_detail(graph, None, pin, message, link_id=link.id), "node_id": node_id}
    if source is None or sink is None:
        return
    source_block, sink_block = blocks.get(source.block_id), blocks.get(sink.block_id)
    if source_block is None or sink_block is None:
        return  # reported once per node already
    source_pin = sanitize_pin_name(link.source_name)
    if source_pin not in output_pins(source, source_block):
        message = f"{source_block.name} has no output pin {source_pin!r}"
        yield _detail(graph, source, link.source_name, message, link_id=link.id)
        source_pin = ""
    # Tool links address whatever field the tool call names (blocks.md §6: tool pins exempt).
    if is_tool_pin(link.source_name):
        return
    sink_pin = sanitize_pin_name(link.sink_name)
    if sink_pin not in input_pins(sink, sink_block):
        message = f"{sink_block.name} has no input pin {sink_pin!r}"
        yield _detail(graph, sink, link.sink_name, message, link_id=link.id)
        return
    plain = link.source_name == source_pin and link.sink_name == sink_pin
    if plain and not catalog.is_agent_executor(source) and not catalog.is_agent_executor(sink):
        out_schema = pin_schema(json_schema_of(source_block.output_schema), source_pin)
        in_schema = pin_schema(json_schema_of(sink_block.input_schema), sink_pin)
        reason = incompatibility(out_schema, in_schema)
        if reason is not None:
            yield _detail(graph, sink, link.sink_name, reason, link_id=link.id)


def graph_errors(graph: Graph, blocks: BlockLookup) -> list[Detail]:
    """Every structural problem of the graph and its sub-graphs (empty when valid)."""
    errors: list[Detail] = []
    for g in _graphs(graph):
        errors.extend(_duplicate_errors(g))
        errors.extend(_node_errors(g, blocks))
        for link in g.links:
            errors.extend(_link_errors(g, link, blocks))
    return errors


def _force_static(graph: Graph, blocks: BlockLookup) -> Graph:
    links = []
    for link in graph.links:
        source = graph.node(link.source_id)
        block = blocks.get(source.block_id) if source is not None else None
        static = link.is_static or (block is not None and block.static_output)
        links.append(link.model_copy(update={"is_static": static}))
    return graph.model_copy(update={"links": links})


def validate_graph(graph: Graph, blocks: BlockLookup) -> Graph:
    """The graph, normalised, if it is structurally valid; else raise ValidationFailed.

    Checks, per graph and sub-graph: duplicate node and link ids; link endpoints exist; each
    node's block exists (one error per node) and is not disabled; link pin names, after
    :func:`~autoplat.graphs.pins.sanitize_pin_name`, are pins of the blocks
    (AgentExecutorBlock: its ``input_default`` schema copies; the sink of a tool link is not
    checked); plain links are not type-incompatible (:mod:`autoplat.graphs.typecheck`);
    INPUT, OUTPUT and AGENT nodes have their required fields set by a default or a link
    (except AgentExecutorBlock's ``user_id``/``inputs``, which reassign_ids sets);
    INPUT names are not ``credentials`` / ``*_credentials``.

    Normalising forces ``is_static`` on links leaving static-output blocks. The input graph
    is not modified.
    """
    errors = graph_errors(graph, blocks)
    if errors:
        first = errors[0]["message"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(f"invalid graph: {first}{more}", details=errors)
    result = _force_static(graph, blocks)
    result.sub_graphs = [_force_static(g, blocks) for g in graph.sub_graphs]
    return result


def _run_input_errors(
    graph: Graph, node: Node, inputs: Mapping[str, Any], blocks: BlockLookup
) -> Iterator[Detail]:
    name = io_name(node)
    if name is None:
        yield _detail(graph, node, "name", "input node has no name")
        return
    provided = inputs.get(name)
    if provided is None and node_value(node, blocks) is None:
        yield _detail(graph, node, name, f"required graph input {name!r} is missing")
    options = node.input_default.get("options", node.input_default.get("placeholder_values"))
    if not (node.block_id == catalog.DROPDOWN_INPUT and isinstance(options, list)):
        return
    if options and provided is not None and provided not in options:
        yield _detail(graph, node, name, f"{provided!r} is not one of {options!r}")


def _subgraph_input_gaps(node: Node, linked: Mapping[str, set[str]]) -> set[str]:
    """Required sub-graph inputs an AgentExecutorBlock node neither sets nor links."""
    schema = node.input_default.get("input_schema")
    required = schema.get("required") if isinstance(schema, dict) else None
    if not isinstance(required, list):
        return set()
    values = node.input_default.get("inputs")
    values = values if isinstance(values, dict) else {}
    given = {k for k, v in values.items() if v is not None} | linked.get(node.id, set())
    return {str(name) for name in required} - given


def run_input_errors(graph: Graph, inputs: Mapping[str, Any], blocks: BlockLookup) -> list[Detail]:
    """Every reason the graph cannot start with these run inputs (empty when it can)."""
    errors: list[Detail] = []
    linked = _linked_pins(graph)
    for node in graph.nodes:
        block = blocks.get(node.block_id)
        if block is None:
            errors.append(_detail(graph, node, None, f"Block {node.block_id} no longer exists"))
            continue
        if block.disabled:
            errors.append(_detail(graph, node, None, f"Block {block.name} is disabled"))
        if block.block_type == BlockType.NOTE:
            continue
        if block.block_type == BlockType.INPUT:
            errors.extend(_run_input_errors(graph, node, inputs, blocks))
            continue
        missing = block.input_schema.required_pins() - _set_pins(node, linked, strict=False)
        # Credentials pins are filled from the run's credentials_inputs, and the credentials
        # check before this one already named every node that lacks them.
        missing = {pin for pin in missing if not is_credentials_key(pin)}
        if catalog.is_agent_executor(node):
            missing |= _subgraph_input_gaps(node, linked)
        for pin in sorted(missing):
            message = f"required input {pin!r} of {block.name} has no value and no link"
            errors.append(_detail(graph, node, pin, message))
    return errors


def validate_run_inputs(graph: Graph, inputs: Mapping[str, Any], blocks: BlockLookup) -> None:
    """Raise ValidationFailed unless a run of ``graph`` with ``inputs`` can start.

    Checks that every block still exists and is enabled; every graph input without a default
    is given (``inputs`` keyed by input name, null counts as absent) and dropdown inputs get
    one of their options; and every other node's required pins are set by a default or a
    link (AgentExecutorBlock: also the sub-graph's required inputs, via ``inputs`` or links).
    Sub-graphs are checked when their own run starts.
    """
    errors = run_input_errors(graph, inputs, blocks)
    if errors:
        first = errors[0]["message"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(f"cannot run graph: {first}{more}", details=errors)
