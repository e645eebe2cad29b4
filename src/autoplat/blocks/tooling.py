"""Tool nodes: what the executor tells a block about the nodes it may call, and how to call one.

A block that calls other nodes as tools (the Orchestrator) finds its hook with
:func:`tool_runner`. The nodes are those linked from the block's ``tools_^_{tool}_~_{field}``
output pins; the hook describes them (:class:`ToolNode`) and runs one inside the caller's own
node execution (:meth:`ToolRunner.run_tool`), which is how agent mode executes tools.

Invariants: the hook belongs to ONE node execution and only reaches the nodes linked from
that node's tool pins; a tool that fails is reported in its :class:`ToolOutcome`, never
raised, so the caller can tell the model (only a stopped or lost run raises, as
``asyncio.CancelledError``, and a run that cannot go on as :class:`ToolRunStopped`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from autoplat.errors import BlockRunError

if TYPE_CHECKING:
    from autoplat.blocks.base import Block, BlockContext

#: Where the executor leaves the hook in ``BlockContext.extra`` (see :func:`tool_runner`).
TOOLS_KEY: Final = "tool_runner"
#: AutoGPT's tool pin names; ``graphs.pins.parse_execution_output`` routes them by node id
#: and field, whatever tool name the saved link carries.
TOOL_PIN_PREFIX: Final = "tools_^_"
TOOL_FIELD_SEPARATOR: Final = "_~_"


def tool_pin(node_id: str, field_name: str) -> str:
    """The output pin that carries argument ``field_name`` of a call to node ``node_id``."""
    return f"{TOOL_PIN_PREFIX}{node_id}{TOOL_FIELD_SEPARATOR}{field_name}"


class UnknownToolNode(BlockRunError):
    """The node named is not linked from the caller's tool pins."""

    code = "unknown_tool_node"


class ToolRunStopped(BlockRunError):
    """The run cannot go on (credits ran out, or it failed): the tool loop must end."""

    code = "tool_run_stopped"


@dataclass(frozen=True, slots=True)
class SubAgent:
    """The graph an AgentExecutorBlock tool node runs, as its tool definition needs it."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ToolNode:
    """One node linked from the caller's tool pins, with the fields those links feed."""

    node_id: str
    block: Block[Any]
    #: The sink names of the tool links, in link order (the tool's arguments).
    fields: tuple[str, ...]
    input_default: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: Set for an AgentExecutorBlock node: the sub-agent it runs.
    sub_agent: SubAgent | None = None


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What one tool run produced: its outputs by pin (in order), or why it failed."""

    outputs: dict[str, list[Any]] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the tool did not complete."""
        return self.error is not None


@runtime_checkable
class ToolRunner(Protocol):
    """The executor's tool hook for one node execution."""

    async def tool_nodes(self) -> Sequence[ToolNode]:
        """The nodes linked from the caller's tool pins, in link order (one per node)."""
        ...

    async def run_tool(self, node_id: str, inputs: Mapping[str, Any]) -> ToolOutcome:
        """Run tool node ``node_id`` with ``inputs`` (by field name) and wait for its end."""
        ...


def tool_runner(context: BlockContext) -> ToolRunner | None:
    """The tool hook the executor gave this block run, if any."""
    hook = context.extra.get(TOOLS_KEY)
    return hook if isinstance(hook, ToolRunner) else None
