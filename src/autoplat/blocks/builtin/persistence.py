"""PersistInformationBlock and RetrieveInformationBlock: memory that outlives a run.

Invariant: values live in the user's key-value store (``context.kv``, bound to the run's
user by the executor), under AutoGPT's keys: ``agent#<graph id>#<key>`` for the scope
``within_agent`` (every run of this agent) and ``global#<key>`` for ``across_agents`` (every
agent of this user). No scope reaches another user's values.
"""

from __future__ import annotations

from typing import Any, Literal

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
    KeyValueAccess,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError
from autoplat.files.standin import with_stores

StorageScope = Literal["within_agent", "across_agents"]
_SCOPE_HELP = (
    "Scope of persistence: 'within_agent' — shared across all runs of this agent; "
    "'across_agents' — shared across all agents for this user"
)


def storage_key(key: str, scope: StorageScope, graph_id: str) -> str:
    """The store's key for a block's ``key`` in ``scope`` (AutoGPT's format)."""
    return f"global#{key}" if scope == "across_agents" else f"agent#{graph_id}#{key}"


def _store(context: BlockContext) -> KeyValueAccess:
    if context.kv is None:
        raise BlockRunError("the key-value store is not available to this run")
    return context.kv


class PersistInformationBlock(Block["PersistInformationBlock.Input"]):
    """Save a value under a key, for later runs to read back."""

    class Input(BlockSchema):
        key: str = pin(description="Key to store the information under")
        value: Any = pin(description="Value to store")
        scope: StorageScope = pin("within_agent", description=_SCOPE_HELP)

    class Output(BlockOutputSchema):
        value: Any = pin(description="Value that was stored")

    id = "1d055e55-a2b9-4547-8311-907d05b0304d"
    description = (
        "Saves a key-value pair that persists across multiple runs. Use to store state, "
        "counters, or memory that must survive between executions. Pair with "
        "RetrieveInformationBlock to read the value back in a later run. For temporary "
        "within-run value passing, use StoreValueBlock instead."
    )
    categories = (BlockCategory.DATA,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "key": "user_preference",
            "value": {"theme": "dark", "language": "en"},
            "scope": "within_agent",
        }
    ]
    test_output = [("value", {"theme": "dark", "language": "en"})]

    def test_context(self, context: BlockContext) -> BlockContext:
        """The self-test's in-memory store (AutoGPT mocks the database call)."""
        return with_stores(context)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        key = storage_key(input_data.key, input_data.scope, context.graph_id)
        yield "value", await _store(context).set(key, input_data.value)


class RetrieveInformationBlock(Block["RetrieveInformationBlock.Input"]):
    """Read back a value saved by PersistInformationBlock, or the default."""

    class Input(BlockSchema):
        key: str = pin(description="Key to retrieve the information for")
        scope: StorageScope = pin("within_agent", description=_SCOPE_HELP)
        default_value: Any = pin(None, description="Default value to return if key is not found")

    class Output(BlockOutputSchema):
        value: Any = pin(description="Retrieved value or default value")

    id = "d8710fc9-6e29-481e-a7d5-165eb16f8471"
    description = (
        "Reads back a key-value pair previously saved by PersistInformationBlock. Returns "
        "data that persists across runs. Use with PersistInformationBlock to build durable "
        "memory, counters, or state. Does NOT retrieve values from StoreValueBlock (those are "
        "ephemeral, within-run only)."
    )
    categories = (BlockCategory.DATA,)
    input_schema = Input
    output_schema = Output
    static_output = True
    test_input = [
        {
            "key": "user_preference",
            "scope": "within_agent",
            "default_value": {"theme": "light", "language": "en"},
        }
    ]
    test_output = [("value", {"theme": "light", "language": "en"})]

    def test_context(self, context: BlockContext) -> BlockContext:
        """The self-test's in-memory store (AutoGPT mocks the database call)."""
        return with_stores(context)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        key = storage_key(input_data.key, input_data.scope, context.graph_id)
        stored = await _store(context).get(key)
        yield "value", stored if stored is not None else input_data.default_value
