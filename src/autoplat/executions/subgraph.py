"""The sub-agent hook: a node execution runs another graph as a child execution."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoplat.executions.executor import GraphRun
    from autoplat.executions.state import NodeRun


class SubgraphRunner:
    """The sub-agent hook for one node execution: runs a child execution in-process."""

    def __init__(self, run: GraphRun, nr: NodeRun) -> None:
        self.run = run
        self.nr = nr

    def run_subgraph(
        self, *, graph_id: str, graph_version: int, inputs: Mapping[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        """Start the child run and yield ``(output name, value)`` as its outputs land."""
        return self._outputs(graph_id, graph_version, dict(inputs))

    async def _outputs(
        self, graph_id: str, graph_version: int, inputs: dict[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        child = await self.run.manager.start_child(
            self.run, self.nr, graph_id=graph_id, graph_version=graph_version, inputs=inputs
        )
        queue = child.child_outputs
        assert queue is not None
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            if not child.done.done():
                child.request_stop()
                await asyncio.wait([asyncio.ensure_future(asyncio.shield(child.done))], timeout=3)
