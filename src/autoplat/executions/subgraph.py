"""The sub-agent hook: a node execution runs another graph as a child execution.

The child's outputs are relayed as they become durable; a child that ends FAILED or
TERMINATED fails the node that started it (with the child's error), so a parent never
completes on a child that did not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from autoplat.errors import BlockRunError
from autoplat.executions.status import ExecutionStatus

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun


class SubAgentFailed(BlockRunError):
    """The sub-agent's run did not complete."""

    code = "sub_agent_failed"


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
        child = await self.run.host.start_child(
            self.run, self.nr, graph_id=graph_id, graph_version=graph_version, inputs=inputs
        )
        queue = child.child_outputs
        assert queue is not None
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                yield item
        finally:
            if not child.done.done():
                child.request_stop()
                await asyncio.wait([asyncio.ensure_future(asyncio.shield(child.done))], timeout=3)
        if child.lost:
            raise asyncio.CancelledError  # the parent's lease went with it
        if child.status != ExecutionStatus.COMPLETED:
            reason = f": {child.error}" if child.error else ""
            raise SubAgentFailed(f"sub-agent run {child.id} ended {child.status.value}{reason}")
