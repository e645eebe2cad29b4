"""What the graph layer knows about blocks: a lookup protocol and the well-known block ids.

The ids are AutoGPT's (blocks.md §2); they let import and schema generation work even for a
graph whose blocks are not (yet) registered.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final, Protocol

from autoplat.blocks.base import BlockType

if TYPE_CHECKING:
    from autoplat.blocks.base import Block, BlockSchema
    from autoplat.graphs.model import Node


class BlockLookup(Protocol):
    """Anything that finds a block by id (``BlockRegistry`` satisfies it)."""

    def get(self, block_id: str) -> Block[Any] | None:
        """The block with this id, or None."""
        ...


AGENT_INPUT: Final = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
SHORT_TEXT_INPUT: Final = "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158"
LONG_TEXT_INPUT: Final = "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba"
NUMBER_INPUT: Final = "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98"
DATE_INPUT: Final = "7e198b09-4994-47db-8b4d-952d98241817"
TIME_INPUT: Final = "2a1c757e-86cf-4c7e-aacf-060dc382e434"
DROPDOWN_INPUT: Final = "655d6fdf-a334-421c-b733-520549c07cd1"
TOGGLE_INPUT: Final = "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e"
TABLE_INPUT: Final = "5603b273-f41e-4020-af7d-fbc9c6a8d928"
FILE_INPUT: Final = "95ead23f-8283-4654-aef3-10c053b74a31"
GOOGLE_DRIVE_FILE_INPUT: Final = "d3b32f15-6fd7-40e3-be52-e083f51b19a2"
AGENT_OUTPUT: Final = "363ae599-353e-4804-937e-b2ee3cef3da4"
NOTE: Final = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
AGENT_EXECUTOR: Final = "e189baac-8c20-45a1-94a7-55177ea42565"

INPUT_BLOCK_IDS: Final = frozenset(
    {
        AGENT_INPUT,
        SHORT_TEXT_INPUT,
        LONG_TEXT_INPUT,
        NUMBER_INPUT,
        DATE_INPUT,
        TIME_INPUT,
        DROPDOWN_INPUT,
        TOGGLE_INPUT,
        TABLE_INPUT,
        FILE_INPUT,
        GOOGLE_DRIVE_FILE_INPUT,
    }
)

_KNOWN_TYPES: Final = {
    **dict.fromkeys(INPUT_BLOCK_IDS, BlockType.INPUT),
    AGENT_OUTPUT: BlockType.OUTPUT,
    NOTE: BlockType.NOTE,
    AGENT_EXECUTOR: BlockType.AGENT,
}


def block_type_of(node: Node, blocks: BlockLookup | None = None) -> BlockType | None:
    """The node's block type: from the registry if it has the block, else from the known ids."""
    block = blocks.get(node.block_id) if blocks is not None else None
    if block is not None:
        return block.block_type
    return _KNOWN_TYPES.get(node.block_id)


def is_agent_executor(node: Node) -> bool:
    """Whether the node runs a sub-graph (AgentExecutorBlock)."""
    return node.block_id == AGENT_EXECUTOR


@functools.lru_cache(maxsize=1024)
def json_schema_of(schema: type[BlockSchema]) -> dict[str, Any]:
    """``schema.json_schema()``, computed once per schema class; callers must not mutate it."""
    return schema.json_schema()
