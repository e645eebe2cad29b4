"""Graph use cases shared by the REST routes and the CLI: import, version, export, delete.

Saving runs one pipeline: parse the JSON (any AutoGPT export shape) → refuse graphs that use
blocks this platform lacks (naming each block and node as they appear in the file) →
validate the structure → give everything fresh ids → check sub-agent references to stored
graphs → store the embedded sub-graphs as the importer's own graphs and the graph itself,
in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autoplat.errors import GraphNotFound, MissingBlocks, ValidationFailed
from autoplat.graphs import catalog
from autoplat.graphs.catalog import BlockLookup
from autoplat.graphs.export import computed_fields, export_graph
from autoplat.graphs.importer import parse_agent_export, reassign_ids
from autoplat.graphs.model import Graph
from autoplat.graphs.schema import credentials_input_schema
from autoplat.graphs.subgraphs import external_subgraph_refs
from autoplat.graphs.validation import missing_blocks, validate_graph
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.db.graphs import GraphStore

log = get_logger("autoplat.graphs")

#: Largest version number a graph row holds (a 32-bit integer column).
MAX_VERSION = 2_147_483_647
#: Column widths of the graph table that the graph model itself does not bound.
_TEXT_LIMITS = {"recommended_schedule_cron": 200, "forked_from_id": 36}
#: Sub-graphs nested deeper than this are not followed on export (guards against cycles).
MAX_SUBGRAPH_DEPTH = 20
_META_EXCLUDE = frozenset({"nodes", "links", "sub_graphs"})


def _missing_blocks_error(graph: Graph, blocks: BlockLookup) -> MissingBlocks | None:
    missing = missing_blocks(graph, blocks)
    if not missing:
        return None
    owners = {node.id: g.id for g in (graph, *graph.sub_graphs) for node in g.nodes}
    details = [
        {
            "graph_id": owners.get(node_id),
            "node_id": node_id,
            "block_id": block_id,
            "pin": None,
            "message": f"block {block_id} (node {node_id}) is not available on this platform",
        }
        for node_id, block_id in missing
    ]
    names = sorted({block_id for _, block_id in missing})
    return MissingBlocks(
        f"graph uses {len(names)} block(s) this platform does not have: {', '.join(names)}",
        details=details,
    )


def _column_errors(graph: Graph) -> list[dict[str, Any]]:
    """Fields that parse but do not fit the graph table (so never reach the database)."""
    errors = []
    for index, owner in enumerate((graph, *graph.sub_graphs)):
        prefix = "" if index == 0 else f"sub_graphs[{index - 1}]."
        for field, limit in _TEXT_LIMITS.items():
            value = getattr(owner, field)
            if value is not None and len(value) > limit:
                errors.append({"field": prefix + field, "message": f"at most {limit} characters"})
        forked = owner.forked_from_version
        if forked is not None and not 0 <= forked <= MAX_VERSION:
            message = f"must be between 0 and {MAX_VERSION}"
            errors.append({"field": prefix + "forked_from_version", "message": message})
    return errors


def _claim_agent_nodes(graph: Graph, user_id: str) -> None:
    """Give sub-agent nodes the importer's user id before validation, as re-iding will.

    Validating before re-iding keeps error messages on the node ids of the caller's file.
    """
    for owner in (graph, *graph.sub_graphs):
        for node in owner.nodes:
            if catalog.is_agent_executor(node):
                node.input_default["user_id"] = user_id
                if not isinstance(node.input_default.get("inputs"), dict):
                    node.input_default["inputs"] = {}


def _pin_new_subgraph_versions(graph: Graph) -> None:
    """Point sub-agent nodes at version 1 of the embedded sub-graphs (their stored version)."""
    new_ids = {sub.id for sub in graph.sub_graphs}
    for owner in (graph, *graph.sub_graphs):
        for node in owner.nodes:
            if catalog.is_agent_executor(node) and node.input_default.get("graph_id") in new_ids:
                node.input_default["graph_version"] = 1


class GraphService:
    """Graph use cases on top of the graph store and the block registry."""

    def __init__(self, store: GraphStore, blocks: BlockLookup) -> None:
        self.store = store
        self.blocks = blocks

    # --- saving ---------------------------------------------------------------------

    async def prepare(self, user_id: str, data: Any) -> Graph:
        """Parse, check and re-id a graph document; nothing is stored. Raises 422 errors."""
        parsed = parse_agent_export(data)
        too_long = _column_errors(parsed)
        if too_long:
            raise ValidationFailed(
                f"invalid graph JSON: {too_long[0]['field']}: {too_long[0]['message']}",
                details=too_long,
            )
        missing = _missing_blocks_error(parsed, self.blocks)
        if missing is not None:
            raise missing
        _claim_agent_nodes(parsed, user_id)
        valid = validate_graph(parsed, self.blocks)
        await self._check_external_refs(user_id, valid)
        fresh = reassign_ids(valid, user_id)
        _pin_new_subgraph_versions(fresh)
        return fresh

    async def _check_external_refs(self, user_id: str, graph: Graph) -> None:
        details = []
        for node_id, graph_id, version in external_subgraph_refs(graph):
            found = None
            in_range = version is None or 1 <= version <= MAX_VERSION
            if graph_id is not None and in_range:
                found = await self.store.get(graph_id, version, user_id=user_id)
            if found is None:
                ref = f"{graph_id} v{version}" if version is not None else str(graph_id)
                details.append(
                    {
                        "graph_id": graph.id,
                        "node_id": node_id,
                        "block_id": catalog.AGENT_EXECUTOR,
                        "pin": "graph_id",
                        "message": f"sub-graph {ref} is neither embedded nor one of your graphs",
                    }
                )
        if details:
            raise ValidationFailed(f"invalid graph: {details[0]['message']}", details=details)

    async def create(self, user_id: str, data: Any) -> Graph:
        """Import a graph document as a new graph (version 1) with its sub-graphs."""
        graph = await self.prepare(user_id, data)
        stored = await self.store.create_graphs(user_id, [*graph.sub_graphs, graph])
        result = stored[-1]
        log.info(
            "graph.created",
            graph_id=result.id,
            user_id=user_id,
            nodes=len(result.nodes),
            sub_graphs=len(stored) - 1,
        )
        return result

    async def update(self, user_id: str, graph_id: str, data: Any) -> Graph:
        """Store a graph document as the next version of ``graph_id`` and activate it."""
        if await self.store.owner_of(graph_id) != user_id:
            raise GraphNotFound(f"graph {graph_id} not found")
        graph = await self.prepare(user_id, data)
        graph = graph.model_copy(update={"id": graph_id})
        stored = await self.store.create_graphs(user_id, [*graph.sub_graphs, graph])
        result = stored[-1]
        log.info("graph.updated", graph_id=graph_id, version=result.version, user_id=user_id)
        return result

    # --- reading --------------------------------------------------------------------

    async def get(self, user_id: str, graph_id: str, version: int | None = None) -> Graph:
        """One of the user's graph versions (the active one by default), or GraphNotFound."""
        graph = await self.store.get(graph_id, version, user_id=user_id)
        if graph is None:
            which = f"graph {graph_id}" + (f" version {version}" if version is not None else "")
            raise GraphNotFound(f"{which} not found")
        return graph

    async def with_sub_graphs(self, graph: Graph) -> Graph:
        """A copy of ``graph`` whose ``sub_graphs`` holds every graph it runs, recursively."""
        seen: set[tuple[str, int]] = {(graph.id, graph.version)}
        found: list[Graph] = []
        frontier = [graph]
        for _ in range(MAX_SUBGRAPH_DEPTH):
            next_frontier = []
            for owner in frontier:
                refs = await self.store.sub_graph_refs(owner.id, owner.version)
                for ref in refs or []:
                    key = (str(ref["id"]), int(ref["version"]))
                    if key in seen:
                        continue
                    seen.add(key)
                    sub = await self.store.get(key[0], key[1], user_id=graph.user_id or None)
                    if sub is not None:
                        found.append(sub)
                        next_frontier.append(sub)
            if not next_frontier:
                break
            frontier = next_frontier
        return graph.model_copy(update={"sub_graphs": found})

    async def export(
        self, user_id: str, graph_id: str, version: int | None = None
    ) -> dict[str, Any]:
        """The AutoGPT export of a graph version: sub-graphs included, secrets stripped."""
        graph = await self.with_sub_graphs(await self.get(user_id, graph_id, version))
        return export_graph(graph, self.blocks)

    def view(self, graph: Graph) -> dict[str, Any]:
        """A stored graph as the API shows it to its owner, with the computed fields."""
        data = graph.model_dump(mode="json", exclude={"sub_graphs"})
        data.update(computed_fields(graph, self.blocks))
        data["credentials_input_schema"] = credentials_input_schema(graph, self.blocks)
        return data

    def meta(self, graph: Graph) -> dict[str, Any]:
        """A graph's listing entry: its fields and I/O schemas, without nodes and links."""
        data = graph.model_dump(mode="json", exclude=set(_META_EXCLUDE))
        data.update(computed_fields(graph, self.blocks))
        data["node_count"] = len(graph.nodes)
        return data

    # --- managing -------------------------------------------------------------------

    async def set_active(self, user_id: str, graph_id: str, version: int) -> None:
        """Make ``version`` the active version, or GraphNotFound."""
        if not await self.store.set_active(graph_id, version, user_id=user_id):
            raise GraphNotFound(f"graph {graph_id} version {version} not found")
        log.info("graph.activated", graph_id=graph_id, version=version, user_id=user_id)

    async def delete(self, user_id: str, graph_id: str) -> int:
        """Delete every version of the graph; how many were removed, or GraphNotFound."""
        removed = await self.store.delete(graph_id, user_id=user_id)
        if removed == 0:
            raise GraphNotFound(f"graph {graph_id} not found")
        log.info("graph.deleted", graph_id=graph_id, versions=removed, user_id=user_id)
        return removed
