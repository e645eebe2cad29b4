"""What a run needs from the process that holds it (:class:`RunHost`), and the few names
every part of a run's execution shares.

Invariant: a :class:`~autoplat.executions.run.GraphRun` reaches the rest of the platform
only through this protocol (block contexts, credentials, charges, child runs, the flusher):
the worker implements it, tests may implement it with a real database behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from autoplat.errors import AutoplatError

if TYPE_CHECKING:
    from autoplat.blocks.base import BlockContext
    from autoplat.config import Settings
    from autoplat.executions.graph import CompiledNode
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun
    from autoplat.graphs.model import Graph


def new_id() -> str:
    """A fresh execution id."""
    return str(uuid.uuid4())


def error_message(exc: BaseException) -> str:
    """The message a failed node records."""
    if isinstance(exc, AutoplatError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NodeServices(Protocol):
    """What a run's node executions use besides their input (the worker's RunServices)."""

    def block_context(
        self, run: GraphRun, nr: NodeRun, credentials: Mapping[str, Any]
    ) -> BlockContext:
        """Everything one block run may use besides its input."""
        ...

    def credential_masks(self, run: GraphRun) -> dict[str, dict[str, Any]]:
        """node id -> {field -> credential reference} from the run's credentials inputs."""
        ...

    async def review_gate(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The input a sensitive action runs with, once a person approved it if they must
        (ReviewRequired while the review waits, BlockRunError when it was rejected)."""
        ...

    async def credentials_for(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The node's credentials, resolved (ValidationFailed when missing or foreign)."""
        ...

    async def charge_node(
        self, run: GraphRun, nr: NodeRun, cnode: CompiledNode, record: Mapping[str, Any]
    ) -> int:
        """Charge a node run before its block runs (InsufficientCredits fails the run)."""
        ...

    async def charge_duration(
        self,
        run: GraphRun,
        nr: NodeRun,
        cnode: CompiledNode,
        record: Mapping[str, Any],
        seconds: float,
    ) -> int:
        """Charge a finished node's per-second cost."""
        ...


class RunHost(Protocol):
    """What a run needs from the process that holds it."""

    @property
    def settings(self) -> Settings:
        """Execution settings (node concurrency, timeouts, retries, lease)."""
        ...

    @property
    def services(self) -> NodeServices:
        """What the run's node executions use besides their input."""
        ...

    def mark_dirty(self, run: GraphRun) -> None:
        """The run has changes to write."""
        ...

    def node_ended(self, run: GraphRun, nr: NodeRun, block: str) -> None:
        """A node execution of ``block`` reached the end of its block run (for metrics)."""
        ...

    async def start_child(
        self,
        parent: GraphRun,
        nr: NodeRun,
        *,
        graph_id: str,
        graph_version: int,
        inputs: dict[str, Any],
    ) -> GraphRun:
        """Start a child run for a sub-agent node."""
        ...

    async def resume_child(self, parent: GraphRun, nr: NodeRun, child_id: str) -> GraphRun | None:
        """Take back the child run ``child_id`` the node parked on and run it again.

        ReviewRequired while a review under it still waits; None when it is not a parked
        child of that node (ended, or never written): the node starts a new one.
        """
        ...

    async def abandon_child(self, child: GraphRun, reason: str) -> None:
        """End a parked child run TERMINATED that nothing will take back."""
        ...

    async def subgraph(self, run: GraphRun, graph_id: str, graph_version: int) -> Graph:
        """A graph a node of ``run`` runs as a sub-agent (GraphNotFound if not the user's)."""
        ...


class LeaseLost(Exception):
    """The run's lease was taken by another process."""
