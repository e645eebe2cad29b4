"""Small graph builders and waits for tests, benchmarks and demos of the executor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.blocks.registry import BlockRegistry
from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.errors import TransientBlockError
from autoplat.executions.status import is_terminal
from autoplat.graphs.model import Graph, Link, Node

if TYPE_CHECKING:
    from autoplat.platform import Platform

STORE_VALUE: Final = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
AGENT_INPUT: Final = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
AGENT_OUTPUT: Final = "363ae599-353e-4804-937e-b2ee3cef3da4"
CALCULATOR: Final = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
STEP_THROUGH: Final = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
COUNTDOWN: Final = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
CREATE_DICT: Final = "b924ddf4-de4f-4b56-9a85-358930dcbc91"
AGENT_EXECUTOR: Final = "e189baac-8c20-45a1-94a7-55177ea42565"
WEB_REQUEST: Final = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
FILL_TEMPLATE: Final = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"


def node(block_id: str, node_id: str | None = None, **defaults: Any) -> Node:
    """A node of ``block_id`` with ``defaults`` as its constant inputs."""
    extra = {"id": node_id} if node_id else {}
    return Node(block_id=block_id, input_default=defaults, **extra)


def link(source: Node, source_name: str, sink: Node, sink_name: str, static: bool = False) -> Link:
    """A link from ``source.source_name`` to ``sink.sink_name``."""
    return Link(
        source_id=source.id,
        sink_id=sink.id,
        source_name=source_name,
        sink_name=sink_name,
        is_static=static,
    )


def graph(nodes: list[Node], links: list[Link], name: str = "test graph") -> Graph:
    """A graph of these nodes and links."""
    return Graph(name=name, nodes=nodes, links=links)


def input_node(name: str, **extra: Any) -> Node:
    """An AgentInputBlock node named ``name``."""
    return node(AGENT_INPUT, name=name, **extra)


def output_node(name: str, **extra: Any) -> Node:
    """An AgentOutputBlock node named ``name``."""
    return node(AGENT_OUTPUT, name=name, **extra)


def chain_graph(length: int) -> Graph:
    """input -> ``length`` StoreValue nodes in a line -> output ``result``."""
    first = input_node("x")
    nodes = [first]
    links = []
    prev, pin = first, "result"
    for _ in range(length):
        store = node(STORE_VALUE)
        nodes.append(store)
        links.append(link(prev, pin, store, "input"))
        prev, pin = store, "output"
    out = output_node("result")
    nodes.append(out)
    links.append(link(prev, pin, out, "value"))
    return graph(nodes, links, f"chain of {length}")


def fanout_graph(count: int) -> Graph:
    """StepThroughItems over ``count`` items, each item handled by its own StoreValue run."""
    step = node(STEP_THROUGH, items=list(range(count)))
    store = node(STORE_VALUE)
    return graph([step, store], [link(step, "item", store, "input")], f"fanout of {count}")


async def save_graph(db: DatabaseManager, user_id: str, g: Graph) -> Graph:
    """Store ``g`` for ``user_id`` (creating the user) and return the stored version."""
    await db.users.ensure(user_id)
    return await db.graphs.create_version(user_id, g)


async def wait_for_run(db: DatabaseManager, graph_exec_id: str, timeout: float = 10.0) -> Any:
    """Poll until the run is in a terminal status; return its row (TimeoutError otherwise)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        row = await db.executions.get_run(graph_exec_id)
        if row is not None and is_terminal(row.status):
            return row
        if loop.time() > deadline:
            status = row.status if row is not None else "missing"
            raise TimeoutError(f"run {graph_exec_id} still {status} after {timeout} s")
        await asyncio.sleep(0.02)


def exec_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Test settings for executor tests: credits off, fast polls, quiet logs."""
    from autoplat.testing import make_settings

    values: dict[str, Any] = {"credits_enabled": False, "poll_interval": 0.1, **overrides}
    return make_settings(database_url, data_dir, **values)


@asynccontextmanager
async def exec_platform(
    settings: Settings, *, extra_blocks: Sequence[Block[Any]] = ()
) -> AsyncIterator[Platform]:
    """A running platform, optionally offering test-only blocks beside the builtin ones."""
    from autoplat.platform import Platform

    blocks = BlockRegistry([*BlockRegistry.builtin(), *extra_blocks])
    blocks = blocks.with_cost_overrides(settings.block_costs)
    async with Platform(settings, blocks=blocks) as platform:
        yield platform


async def run_graph(
    platform: Platform,
    g: Graph,
    inputs: Mapping[str, Any] | None = None,
    *,
    user_id: str = "user-a",
    timeout: float = 10.0,
) -> tuple[Any, list[Any]]:
    """Save ``g``, run it, wait for the end; return the run row and its node rows."""
    saved = await save_graph(platform.db, user_id, g)
    run_id = await platform.executions.submit(
        user_id=user_id, graph_id=saved.id, graph_version=saved.version, inputs=inputs or {}
    )
    row = await wait_for_run(platform.db, run_id, timeout)
    return row, await platform.db.executions.get_nodes(run_id)


async def start_sleeping_run(platform: Platform, user_id: str, seconds: float = 30) -> str:
    """Submit a graph of one SleepBlock node (``seconds``) and return its run id once that
    node is RUNNING (the platform must offer SleepBlock; TimeoutError after 5 s of quiet)."""
    saved = await save_graph(
        platform.db, user_id, graph([node(SleepBlock.id, seconds=seconds)], [])
    )
    with platform.executions.bus.subscribe(user_id=user_id) as sub:
        run_id = await platform.executions.submit(
            user_id=user_id, graph_id=saved.id, graph_version=saved.version
        )
        while True:
            event = await sub.get(timeout=5)
            if event.kind == "node" and event.status == "RUNNING":
                return run_id


class SleepBlock(Block["SleepBlock.Input"]):
    """Test-only block: sleeps ``seconds`` then emits ``value`` (not in the builtin registry)."""

    class Input(BlockSchema):
        seconds: float = 0.0
        value: Any = None

    class Output(BlockOutputSchema):
        value: Any = None

    id = "00000000-0000-4000-8000-0000000051ee"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        await asyncio.sleep(input_data.seconds)
        yield "value", input_data.value


class FlakyBlock(Block["FlakyBlock.Input"]):
    """Test-only block: raises TransientBlockError on its first ``fail_times`` calls."""

    class Input(BlockSchema):
        fail_times: int = 0

    class Output(BlockOutputSchema):
        calls: int = 0

    id = "00000000-0000-4000-8000-00000000f1a4"
    input_schema = Input
    output_schema = Output

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        self.calls += 1
        if self.calls <= input_data.fail_times:
            raise TransientBlockError(f"flaky call {self.calls}")
        yield "calls", self.calls
