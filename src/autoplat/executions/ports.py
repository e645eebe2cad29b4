"""What the execution core needs from other components, as protocols.

The core depends on these narrow interfaces, not on the components themselves, so the
credit service (or a test double of it) plugs in without ``getattr`` probing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from autoplat.blocks.base import Block
from autoplat.graphs.model import Graph

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun
    from autoplat.executions.state import NodeRun


class Credits(Protocol):
    """Metering of runs (``autoplat.credits.service.CreditService`` implements it)."""

    @property
    def enabled(self) -> bool:
        """Whether runs are metered at all."""
        ...

    async def ensure_can_run(self, user_id: str) -> None:
        """Raise InsufficientCredits when the user cannot start a run."""
        ...

    def bills_time(self, block_id: str) -> bool:
        """Whether the block has a per-second cost."""
        ...

    async def charge_node(
        self,
        *,
        user_id: str,
        graph_exec_id: str,
        node_exec_id: str,
        block: Block[Any],
        input_data: Mapping[str, Any],
        run_number: int | None = None,
        charge_key: str | None = None,
    ) -> int:
        """Charge one node run; the same ``charge_key`` is charged once."""
        ...

    async def charge_duration(
        self,
        *,
        user_id: str,
        graph_exec_id: str,
        node_exec_id: str,
        block: Block[Any],
        input_data: Mapping[str, Any],
        seconds: float,
        charge_key: str | None = None,
    ) -> int:
        """Charge a finished node's per-second cost; the same key is charged once."""
        ...


class CredentialsResolver(Protocol):
    """Users' credentials (``autoplat.integrations.service.CredentialsService``)."""

    async def check_graph(
        self, user_id: str, graph: Graph, credentials_inputs: Mapping[str, Any]
    ) -> None:
        """Raise ValidationFailed (422, naming node and field) unless a run can start."""
        ...

    def node_credentials_map(
        self, graph: Graph, credentials_inputs: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """node id -> {field -> reference} from a run's ``credentials_inputs``."""
        ...

    async def for_node(
        self,
        user_id: str,
        block: Block[Any],
        record: Mapping[str, Any],
        *,
        node_id: str = "",
        optional: bool = False,
    ) -> Mapping[str, Any]:
        """The node's credentials inputs resolved (decrypted): field -> credential."""
        ...


class ExecutionObserver(Protocol):
    """What the core reports for metrics (``autoplat.api.metrics.Metrics`` implements it)."""

    def observe_node_end(self, block: str, status: str, seconds: float) -> None:
        """A node execution of ``block`` (its name) ended with ``status`` after ``seconds``."""
        ...

    def observe_queue_wait(self, seconds: float) -> None:
        """A run started ``seconds`` after it was queued."""
        ...


class RunTracer(Protocol):
    """What the core reports for traces (``autoplat.executions.tracing.RunTracing``).

    Called only in the worker that holds the run, on its event loop; each hook is quick
    and never raises into the run (the tracer only queues spans for export).
    """

    def run_started(self, run: GraphRun) -> None:
        """This process started (or resumed) executing ``run``."""
        ...

    def node_ended(self, run: GraphRun, nr: NodeRun, block: str) -> None:
        """A node execution of ``run`` finished its block run (``block`` is its name)."""
        ...

    def run_ended(self, run: GraphRun, outcome: BaseException | None) -> None:
        """This process is done with ``run``: normally (None) or through ``outcome``."""
        ...
