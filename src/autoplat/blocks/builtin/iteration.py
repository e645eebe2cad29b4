"""Iteration: emit the items of a list, dictionary or JSON text one by one (blocks.md §3.9).

At most ``settings.step_through_max_items`` items per source, and JSON text of at most 1 MiB,
so one node cannot fan out without bound."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

MAX_JSON_BYTES = 1024 * 1024


def _pairs(source: Any) -> Iterator[tuple[Any, Any]]:
    """(item, key) pairs: dict values with their keys, sequence items with their index."""
    if isinstance(source, dict):
        for key, value in source.items():
            yield value, key
    elif isinstance(source, list | str):
        for index, value in enumerate(source):
            yield value, index
    else:
        raise BlockRunError(f"cannot iterate over a {type(source).__name__}")


class StepThroughItemsBlock(Block["StepThroughItemsBlock.Input"]):
    """Emit ``item`` and ``key`` for each element of ``items``, ``items_object``, ``items_str``."""

    class Input(BlockSchema):
        items: list[Any] = pin(default_factory=list, advanced=False)
        items_object: dict[Any, Any] = pin(default_factory=dict, advanced=False)
        items_str: str = pin("", advanced=False, description="JSON array or object text.")

    class Output(BlockOutputSchema):
        item: Any = pin(description="The current element.")
        key: Any = pin(description="Its key (dictionaries) or index (lists).")

    id = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
    description = "Iterates over the items of a list or dictionary, one output per item."
    categories = (BlockCategory.LOGIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"items": ["a", "b"]},
        {"items_object": {"x": 1}},
        {"items_str": '{"k": [1]}'},
        {"items": [0], "items_str": "[9]"},
        {"items_str": "5"},
    ]
    test_output = [
        ("item", "a"),
        ("key", 0),
        ("item", "b"),
        ("key", 1),
        ("item", 1),
        ("key", "x"),
        ("item", [1]),
        ("key", "k"),
        ("item", 0),
        ("key", 0),
        ("item", 9),
        ("key", 0),
        ("error", lambda msg: "cannot iterate" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        sources: list[Any] = []
        if input_data.items:
            sources.append(input_data.items)
        if input_data.items_object:
            sources.append(input_data.items_object)
        if input_data.items_str:
            if len(input_data.items_str.encode()) > MAX_JSON_BYTES:
                raise BlockRunError("items_str is larger than 1 MiB")
            try:
                sources.append(json.loads(input_data.items_str))
            except ValueError as exc:
                raise BlockRunError(f"items_str is not valid JSON: {exc}") from exc
        # AUTOPLAT_STEP_THROUGH_MAX_ITEMS: every item becomes a node run downstream.
        limit = context.settings.step_through_max_items
        for source in sources:
            if isinstance(source, list | dict | str) and len(source) > limit:
                raise BlockRunError(f"cannot iterate over more than {limit} items")
            for item, key in _pairs(source):
                yield "item", item
                yield "key", key
