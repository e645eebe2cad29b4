"""Compiled graph versions, cached: a version never changes once stored."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from autoplat.blocks.registry import BlockRegistry
from autoplat.db.manager import DatabaseManager
from autoplat.errors import GraphNotFound
from autoplat.executions.graph import CompiledGraph
from autoplat.graphs.model import Graph

CACHE_SIZE = 256
#: How long a cached graph may answer a submit (a deleted graph stops being runnable).
SUBMIT_CACHE_SECONDS = 5.0


class GraphCache:
    """Loads and compiles graph versions for runs, keeping the most recent ones."""

    def __init__(self, db: DatabaseManager, blocks: BlockRegistry) -> None:
        self.db = db
        self.blocks = blocks
        self._graphs: OrderedDict[tuple[str, int], tuple[CompiledGraph, float]] = OrderedDict()

    async def for_user(
        self, user_id: str, graph_id: str, version: int | None, *, fresh: bool = True
    ) -> CompiledGraph:
        """The user's graph version (active when None); GraphNotFound if missing or foreign.

        ``fresh`` limits cache answers to recently loaded graphs (submits must not run a
        deleted graph for long); a running run's sub-agents take any cached version.
        """
        loop = asyncio.get_running_loop()
        if version is not None:
            hit = self._graphs.get((graph_id, version))
            recent = hit is not None and (not fresh or loop.time() - hit[1] < SUBMIT_CACHE_SECONDS)
            if hit is not None and recent and hit[0].graph.user_id == user_id:
                return hit[0]
        graph = await self.db.graphs.get(graph_id, version, user_id=user_id)
        if graph is None:
            raise GraphNotFound(f"graph {graph_id} (version {version or 'active'}) not found")
        return self._remember(graph, user_id)

    async def for_run(self, graph_id: str, version: int, user_id: str) -> CompiledGraph:
        """The version a claimed run executes (checked when it was submitted)."""
        hit = self._graphs.get((graph_id, version))
        if hit is not None:
            return hit[0]
        graph = await self.db.graphs.get(graph_id, version)
        if graph is None:
            raise GraphNotFound(f"graph {graph_id} version {version} is gone")
        return self._remember(graph, user_id)

    def _remember(self, graph: Graph, user_id: str) -> CompiledGraph:
        if not graph.user_id:
            graph = graph.model_copy(update={"user_id": user_id})
        compiled = CompiledGraph.build(graph, self.blocks)
        key = (graph.id, graph.version)
        self._graphs[key] = (compiled, asyncio.get_running_loop().time())
        self._graphs.move_to_end(key)
        while len(self._graphs) > CACHE_SIZE:
            self._graphs.popitem(last=False)
        return compiled
