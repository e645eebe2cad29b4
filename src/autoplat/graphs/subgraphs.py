"""Sub-graph references (AgentExecutorBlock nodes) and fresh ids for an imported graph.

AgentExecutorBlock keeps its target in ``input_default``: ``graph_id``, ``graph_version``,
``input_schema``/``output_schema`` (copies of the target's I/O schemas) and optional
``agent_name``. Some AutoGPT seed exports reference sub-graphs by ids that match no embedded
``sub_graphs[].id`` (agents/INDEX.md), so a reference is resolved by id first, then by the
same version plus the same name (``agent_name``) or the same input/output pin names.
"""

from __future__ import annotations

from typing import Any

from autoplat.graphs import catalog
from autoplat.graphs.model import Graph, Node, new_id
from autoplat.graphs.schema import graph_input_schema, graph_output_schema


def _property_names(schema: Any) -> frozenset[str] | None:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return frozenset(props) if isinstance(props, dict) else None


def _same_pins(node: Node, graph: Graph) -> bool:
    """Whether the node's copy of the target schemas names the graph's inputs and outputs."""
    inputs = _property_names(node.input_default.get("input_schema"))
    outputs = _property_names(node.input_default.get("output_schema"))
    if inputs is None or outputs is None:
        return False
    return inputs == _property_names(graph_input_schema(graph)) and outputs == _property_names(
        graph_output_schema(graph)
    )


def resolve_subgraph(node: Node, candidates: list[Graph]) -> Graph | None:
    """The graph among ``candidates`` that the AgentExecutorBlock ``node`` refers to, if any.

    By id; otherwise the single candidate with the referenced version whose name equals
    ``agent_name`` (when given) or whose input/output names equal the node's schema copies.
    Ambiguous or absent matches give None (the reference then names a stored graph, or none).
    """
    data = node.input_default
    graph_id, version = data.get("graph_id"), data.get("graph_version")
    for graph in candidates:
        if graph.id == graph_id and (version is None or graph.version == version):
            return graph
    same_version = [g for g in candidates if g.version == version]
    agent_name = data.get("agent_name")
    if agent_name:
        by_name = [g for g in same_version if g.name == agent_name]
        if len(by_name) == 1:
            return by_name[0]
    by_pins = [g for g in same_version if _same_pins(node, g)]
    return by_pins[0] if len(by_pins) == 1 else None


def subgraph_references(graph: Graph) -> list[tuple[Graph, Node]]:
    """Every (owning graph, AgentExecutorBlock node) pair in the graph and its sub-graphs."""
    return [
        (owner, node)
        for owner in (graph, *graph.sub_graphs)
        for node in owner.nodes
        if catalog.is_agent_executor(node)
    ]


def external_subgraph_refs(graph: Graph) -> list[tuple[str, str | None, int | None]]:
    """``(node_id, graph_id, graph_version)`` of references not satisfied by ``sub_graphs``.

    These must name graphs already stored for the user (the persistence layer checks them).
    """
    refs = []
    for _, node in subgraph_references(graph):
        if resolve_subgraph(node, graph.sub_graphs) is None:
            data = node.input_default
            graph_id, version = data.get("graph_id"), data.get("graph_version")
            refs.append(
                (
                    node.id,
                    graph_id if isinstance(graph_id, str) else None,
                    version if isinstance(version, int) else None,
                )
            )
    return refs


def _renumber(graph: Graph, graph_id: str, user_id: str) -> Graph:
    node_ids = {node.id: new_id() for node in graph.nodes}
    nodes = [n.model_copy(update={"id": node_ids[n.id]}, deep=True) for n in graph.nodes]
    links = [
        link.model_copy(
            update={
                "id": new_id(),
                "source_id": node_ids.get(link.source_id, link.source_id),
                "sink_id": node_ids.get(link.sink_id, link.sink_id),
            }
        )
        for link in graph.links
    ]
    return graph.model_copy(
        update={
            "id": graph_id,
            "user_id": user_id,
            "nodes": nodes,
            "links": links,
            "sub_graphs": [],
        }
    )


def reassign_ids(graph: Graph, user_id: str, *, keep_graph_ids: bool = False) -> Graph:
    """A copy of ``graph`` with new ids, owned by ``user_id``; the input is not modified.

    New ids for the graph, every sub-graph, every node and every link; link endpoints follow
    their nodes. AgentExecutorBlock nodes get ``user_id``, an ``inputs`` object if missing,
    and ``graph_id`` rewritten to the (new) id of the sub-graph they resolve to
    (:func:`resolve_subgraph`); references to graphs outside the export are left as they are.
    ``keep_graph_ids`` keeps the graph and sub-graph ids (a new version of a stored graph)
    while nodes and links still get fresh ids.
    """
    originals = list(graph.sub_graphs)
    targets = {
        id(node): resolve_subgraph(node, originals) for _, node in subgraph_references(graph)
    }
    # Keyed by object identity: exports may repeat a graph id among their sub-graphs.
    renumbered = {
        id(g): _renumber(g, g.id if keep_graph_ids else new_id(), user_id)
        for g in (graph, *originals)
    }
    for owner in (graph, *originals):
        copy = renumbered[id(owner)]
        for old, new in zip(owner.nodes, copy.nodes, strict=True):
            if not catalog.is_agent_executor(old):
                continue
            new.input_default["user_id"] = user_id
            if not isinstance(new.input_default.get("inputs"), dict):
                new.input_default["inputs"] = {}
            target = targets.get(id(old))
            if target is not None:
                new.input_default["graph_id"] = renumbered[id(target)].id
                new.input_default["graph_version"] = target.version
    result = renumbered[id(graph)]
    result.sub_graphs = [renumbered[id(g)] for g in originals]
    return result
