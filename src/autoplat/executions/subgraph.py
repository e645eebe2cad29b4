"""The sub-agent hook: a node execution runs another graph as a child execution.

The child's outputs are relayed as they become durable; a child that ends FAILED or
TERMINATED fails the node that started it (with the child's error), so a parent never
completes on a child that did not.

A child that settles in REVIEW (a person must decide something inside it) parks the node
too (ReviewRequired), so the parent run settles in REVIEW and holds no worker either. The
node notes its child's id in its stats: run again once the decision came (on any process),
it takes that child back and relays what the child produces from then on, instead of
starting another. A sub-agent run as an Orchestrator's tool cannot park (the model's turn
would have to be replayed): its child is ended and the tool call fails, saying why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from autoplat.blocks.base import ReviewRequired
from autoplat.errors import BlockRunError
from autoplat.executions.status import ExecutionStatus

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun


#: The node stats key naming the child run a sub-agent node parked on.
CHILD_KEY = "sub_agent_run"
#: Why a sub-agent run as a tool fails when its child waits for a review.
TOOL_CANNOT_WAIT = "it waits for a human review, which a sub-agent run as a tool cannot wait for"


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
        tool_call = self.nr.id in self.run.tool_calls
        child: GraphRun | None = None
        parked = self.nr.stats.get(CHILD_KEY)
        if isinstance(parked, str) and not tool_call:
            # Run again after a review under the child: it resumes where it paused.
            child = await self.run.host.resume_child(self.run, self.nr, parked)
        if child is None:
            child = await self.run.host.start_child(
                self.run, self.nr, graph_id=graph_id, graph_version=graph_version, inputs=inputs
            )
        self.nr.stats[CHILD_KEY] = child.id
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
        if child.status == ExecutionStatus.REVIEW:
            if tool_call:
                await self.run.host.abandon_child(
                    child, f"sub-agent run as a tool: {TOOL_CANNOT_WAIT}"
                )
                raise SubAgentFailed(f"sub-agent run {child.id} cannot go on: {TOOL_CANNOT_WAIT}")
            raise ReviewRequired(f"sub-agent run {child.id} is waiting for a review")
        if child.status != ExecutionStatus.COMPLETED:
            reason = f": {child.error}" if child.error else ""
            raise SubAgentFailed(f"sub-agent run {child.id} ended {child.status.value}{reason}")
