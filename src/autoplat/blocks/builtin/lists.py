"""List blocks (blocks.md §3.4 and the list extras of §3.15)."""

from __future__ import annotations

import json
import math
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
from autoplat.blocks.convert import to_json_safe
from autoplat.blocks.schema import pin

# Pins named ``list`` shadow the builtin inside schema bodies, so annotations use an alias.
AnyList = list[Any]


def _empty_list() -> AnyList:
    return []


def estimate_tokens(value: Any) -> int:
    """Rough token count of a value's text form (about four characters per token)."""
    return math.ceil(len(str(value)) / 4)


def chunk_values(
    values: list[Any], max_size: int | None, max_tokens: int | None
) -> Iterator[list[Any]]:
    """Split ``values`` into chunks within ``max_size`` items and ``max_tokens`` tokens."""
    chunk: list[Any] = []
    tokens = 0
    for value in values:
        cost = estimate_tokens(value) if max_tokens else 0
        too_many = max_size is not None and len(chunk) + 1 > max_size
        too_long = max_tokens is not None and tokens + cost > max_tokens
        if too_many or too_long:
            yield chunk
            chunk, tokens = [], 0
        chunk.append(value)
        tokens += cost
    if chunk or not values:
        yield chunk


class CreateListBlock(Block["CreateListBlock.Input"]):
    """Emit ``values`` as a list, optionally in chunks (usually fed by ``values_$_<i>``)."""

    class Input(BlockSchema):
        values: AnyList = pin(description="Items of the list.")
        max_size: int | None = pin(None, description="Largest number of items per chunk.")
        max_tokens: int | None = pin(None, description="Largest estimated tokens per chunk.")

    class Output(BlockOutputSchema):
        list: AnyList = pin(description="The list (or one chunk of it).")

    id = "a912d5c7-6e00-4542-b2a9-8034136930e4"
    description = "Creates a list from values, optionally split into chunks."
    categories = (BlockCategory.DATA,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"values": [1, "a", None]},
        {"values": [1, 2, 3, 4, 5], "max_size": 2},
        {"values": []},
        {"values": ["x" * 40, "y"], "max_tokens": 5},
    ]
    test_output = [
        ("list", [1, "a", None]),
        ("list", [1, 2]),
        ("list", [3, 4]),
        ("list", [5]),
        ("list", []),
        ("list", []),
        ("list", ["x" * 40]),
        ("list", ["y"]),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if input_data.max_size is None and input_data.max_tokens is None:
            yield "list", input_data.values
            return
        for chunk in chunk_values(input_data.values, input_data.max_size, input_data.max_tokens):
            yield "list", chunk


class AddToListBlock(Block["AddToListBlock.Input"]):
    """Copy a list and insert ``entries`` plus ``entry`` at the end or at ``position``."""

    class Input(BlockSchema):
        list: AnyList = pin(default_factory=_empty_list, advanced=False)
        entry: Any = pin(None, advanced=False, description="One item to add (null = none).")
        entries: AnyList = pin(default_factory=_empty_list, description="Items to add.")
        position: int | None = pin(None, description="Index to insert at (default: end).")

    class Output(BlockOutputSchema):
        updated_list: AnyList = pin(description="The list with the additions.")

    id = "aeb08fc1-2fc1-4141-bc8e-f758f183a822"
    description = "Adds items to a list."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"list": ["a", "b"], "entries": ["f", "g"], "entry": "e", "position": 1},
        {"list": [1], "entry": 0},
        {"entries": [None]},
        {"list": [1, 2, 3], "entry": "x", "position": -1},
    ]
    test_output = [
        ("updated_list", ["a", "f", "g", "e", "b"]),
        ("updated_list", [1, 0]),
        ("updated_list", [None]),
        ("updated_list", [1, 2, "x", 3]),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        added = list(input_data.entries)
        if input_data.entry is not None:
            added.append(input_data.entry)
        updated = list(input_data.list)
        if input_data.position is None:
            updated.extend(added)
        else:
            updated[input_data.position : input_data.position] = added
        yield "updated_list", updated


class FindInListBlock(Block["FindInListBlock.Input"]):
    """Find the first position of ``value`` in a list."""

    class Input(BlockSchema):
        list: AnyList = pin(description="List to search.")
        value: Any = pin(description="Value to find.")

    class Output(BlockOutputSchema):
        index: int = pin(description="Position of the first match.")
        found: bool = pin(description="Whether the value was found.")
        not_found_value: Any = pin(description="The value, when not found.")

    id = "5e2c6d0a-1e37-489f-b1d0-8e1812b23333"
    description = "Finds the index of a value in a list."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [{"list": ["a", "b", "b"], "value": "b"}, {"list": [1, 2], "value": 9}]
    test_output = [
        ("index", 1),
        ("found", True),
        ("found", False),
        ("not_found_value", 9),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        try:
            index = input_data.list.index(input_data.value)
        except ValueError:
            yield "found", False
            yield "not_found_value", input_data.value
            return
        yield "index", index
        yield "found", True


class GetListItemBlock(Block["GetListItemBlock.Input"]):
    """Emit the item at ``index`` (negative counts from the end)."""

    class Input(BlockSchema):
        list: AnyList = pin(description="List to read.")
        index: int = pin(description="Position (negative counts from the end).")

    class Output(BlockOutputSchema):
        item: Any = pin(description="The item.")

    id = "262ca24c-1025-43cf-a578-534e23234e97"
    description = "Gets the item at an index of a list."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"list": [1, 2, 3], "index": 0},
        {"list": [1, 2, 3], "index": -1},
        {"list": [1], "index": 5},
    ]
    test_output = [("item", 1), ("item", 3), ("error", "Index out of range")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        try:
            item = input_data.list[input_data.index]
        except IndexError:
            yield "error", "Index out of range"
            return
        yield "item", item


class RemoveFromListBlock(Block["RemoveFromListBlock.Input"]):
    """Copy a list without the item at ``index`` or the first item equal to ``value``."""

    class Input(BlockSchema):
        list: AnyList = pin(description="List to remove from.")
        value: Any = pin(None, description="Value to remove (first match).")
        index: int | None = pin(None, description="Position to remove.")
        return_item: bool = pin(False, description="Also emit the removed item.")

    class Output(BlockOutputSchema):
        updated_list: AnyList = pin(description="The list without the item.")
        removed_item: Any = pin(description="The removed item.")

    id = "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826"
    description = "Removes an item from a list by index or value."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"list": ["a", "b", "c"], "index": -1, "return_item": True},
        {"list": ["a", "b", "a"], "value": "a"},
        {"list": ["a"], "value": "z"},
        {"list": ["a"]},
    ]
    test_output = [
        ("updated_list", ["a", "b"]),
        ("removed_item", "c"),
        ("updated_list", ["b", "a"]),
        ("error", "Index or value not found"),
        ("error", "Index or value not found"),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        updated = list(input_data.list)
        try:
            if input_data.index is not None:
                removed = updated.pop(input_data.index)
            elif input_data.value is not None:
                removed = input_data.value
                updated.remove(input_data.value)
            else:
                raise ValueError("nothing to remove")
        except (IndexError, ValueError):
            yield "error", "Index or value not found"
            return
        yield "updated_list", updated
        if input_data.return_item:
            yield "removed_item", removed


class ReplaceListItemBlock(Block["ReplaceListItemBlock.Input"]):
    """Copy a list with the item at ``index`` replaced."""

    class Input(BlockSchema):
        list: AnyList = pin(description="List to update.")
        index: int = pin(description="Position to replace (negative counts from the end).")
        value: Any = pin(description="New item.")

    class Output(BlockOutputSchema):
        updated_list: AnyList = pin(description="The updated list.")
        old_item: Any = pin(description="The replaced item.")

    id = "fbf62922-bea1-4a3d-8bac-23587f810b38"
    description = "Replaces the item at an index of a list."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"list": [1, 2, 3], "index": -2, "value": "two"},
        {"list": [], "index": 0, "value": 1},
    ]
    test_output = [
        ("updated_list", [1, "two", 3]),
        ("old_item", 2),
        ("error", "Index out of range"),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        updated = list(input_data.list)
        try:
            old = updated[input_data.index]
        except IndexError:
            yield "error", "Index out of range"
            return
        updated[input_data.index] = input_data.value
        yield "updated_list", updated
        yield "old_item", old


class ListIsEmptyBlock(Block["ListIsEmptyBlock.Input"]):
    """Tell whether a list has no items."""

    class Input(BlockSchema):
        list: AnyList = pin(description="List to check.")

    class Output(BlockOutputSchema):
        is_empty: bool = pin(description="True when the list is empty.")

    id = "896ed73b-27d0-41be-813c-c1c1dc856c03"
    description = "Checks whether a list is empty."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [{"list": []}, {"list": [None]}]
    test_output = [("is_empty", True), ("is_empty", False)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "is_empty", len(input_data.list) == 0


def _structural_key(value: Any) -> str:
    return json.dumps(to_json_safe(value), sort_keys=True)


class ConcatenateListsBlock(Block["ConcatenateListsBlock.Input"]):
    """Join lists in order, optionally dropping nulls and duplicates."""

    class Input(BlockSchema):
        lists: AnyList = pin(
            description="Lists to join (null entries are skipped).",
            items={"anyOf": [{"type": "array", "items": {}}, {"type": "null"}]},
        )
        deduplicate: bool = pin(False, description="Keep only the first of equal items.")
        remove_none: bool = pin(False, description="Drop null items.")

    class Output(BlockOutputSchema):
        concatenated_list: AnyList = pin(description="All items in order.")
        length: int = pin(description="Number of items in the result.")

    id = "3cf9298b-5817-4141-9d80-7c2cc5199c8e"
    description = "Concatenates several lists into one."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"lists": [[1, 2], None, [2, None, {"a": 1}], [{"a": 1}]]},
        {"lists": [[1, 2], [2, None, {"a": 1}], [{"a": 1}]], "deduplicate": True},
        {"lists": [[None, 1]], "remove_none": True},
        {"lists": [[1], "oops"]},
    ]
    test_output = [
        ("concatenated_list", [1, 2, 2, None, {"a": 1}, {"a": 1}]),
        ("length", 6),
        ("concatenated_list", [1, 2, None, {"a": 1}]),
        ("length", 4),
        ("concatenated_list", [1]),
        ("length", 1),
        ("error", lambda msg: "index 1" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        result: list[Any] = []
        for position, item in enumerate(input_data.lists):
            if item is None:
                continue
            if not isinstance(item, list):
                yield "error", f"item at index {position} is not a list: {type(item).__name__}"
                return
            result.extend(item)
        if input_data.remove_none:
            result = [item for item in result if item is not None]
        if input_data.deduplicate:
            seen: set[str] = set()
            unique: list[Any] = []
            for item in result:
                key = _structural_key(item)
                if key not in seen:
                    seen.add(key)
                    unique.append(item)
            result = unique
        yield "concatenated_list", result
        yield "length", len(result)
