"""Dictionary blocks (blocks.md §3.3)."""

from __future__ import annotations

import json
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

_MISSING = object()
_PLAIN = (dict, list, tuple, str, int, float, bool, type(None))


def _has_attr(obj: Any, key: str | int) -> bool:
    """Attribute lookup for real objects only: a JSON value's methods are not data."""
    return isinstance(key, str) and not isinstance(obj, _PLAIN) and hasattr(obj, key)


def _lookup(data: Any, key: str | int) -> Any:
    """Find ``key`` in ``data`` by the FindInDictionary rules, or return ``_MISSING``."""
    if isinstance(data, dict) and key in data:
        return data[key]
    if isinstance(data, list):
        if isinstance(key, int) and not isinstance(key, bool):
            return data[key] if 0 <= key < len(data) else _MISSING
        if not data:
            return []
        first = data[0]
        if isinstance(first, dict) and key in first:
            return [item[key] for item in data if isinstance(item, dict) and key in item]
        return [getattr(item, str(key)) for item in data if _has_attr(item, key)]
    if _has_attr(data, key):
        return getattr(data, str(key))
    return _MISSING


class FindInDictionaryBlock(Block["FindInDictionaryBlock.Input"]):
    """Look a key up in a dict (or list, or JSON text); emits ``missing`` when absent."""

    class Input(BlockSchema):
        input: Any = pin(description="Dictionary, list or JSON text to look into.")
        key: str | int = pin(description="Key (or list index) to find.")

    class Output(BlockOutputSchema):
        output: Any = pin(description="The value found.")
        missing: Any = pin(description="The input, when the key was not found.")

    id = "0e50422c-6dee-4145-83d6-3a5a392f65de"
    description = "Looks up a key in a dictionary, a list of dictionaries, or JSON text."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"input": {"apple": 1, "banana": 2}, "key": "banana"},
        {"input": '{"x": {"y": 3}}', "key": "x"},
        {"input": [10, 20, 30], "key": 1},
        {"input": [{"n": 1}, {"m": 5}, {"n": 2}], "key": "n"},
        {"input": {"a": 1}, "key": "zzz"},
        {"input": [1, 2], "key": -1},
    ]
    test_output = [
        ("output", 2),
        ("output", {"y": 3}),
        ("output", 20),
        ("output", [1, 2]),
        ("missing", {"a": 1}),
        ("missing", [1, 2]),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        data = input_data.input
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise BlockRunError(f"input is not valid JSON: {exc}") from exc
        found = _lookup(data, input_data.key)
        if found is _MISSING:
            yield "missing", input_data.input
        else:
            yield "output", found


class CreateDictionaryBlock(Block["CreateDictionaryBlock.Input"]):
    """Emit a dictionary built from ``values`` (usually fed by ``values_#_<key>`` pins)."""

    class Input(BlockSchema):
        values: dict[str, Any] = pin(description="Key/value pairs of the dictionary.")

    class Output(BlockOutputSchema):
        dictionary: dict[str, Any] = pin(description="The dictionary.")

    id = "b924ddf4-de4f-4b56-9a85-358930dcbc91"
    description = "Creates a dictionary from the given values."
    categories = (BlockCategory.DATA,)
    input_schema = Input
    output_schema = Output
    test_input = [{"values": {"name": "Ada", "age": 36}}, {"values": {}}]
    test_output = [("dictionary", {"name": "Ada", "age": 36}), ("dictionary", {})]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "dictionary", input_data.values


class AddToDictionaryBlock(Block["AddToDictionaryBlock.Input"]):
    """Copy a dictionary and add ``key``/``value`` and every pair of ``entries``."""

    class Input(BlockSchema):
        dictionary: dict[Any, Any] = pin(default_factory=dict, advanced=False)
        key: str = pin("", advanced=False, description="Key to add.")
        value: Any = pin(None, advanced=False, description="Value to add under key.")
        entries: dict[Any, Any] = pin(default_factory=dict, description="More pairs to add.")

    class Output(BlockOutputSchema):
        updated_dictionary: dict[Any, Any] = pin(description="The dictionary with additions.")

    id = "31d1064e-7446-4693-a7d4-65e5ca1180d1"
    description = "Adds entries to a dictionary."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"dictionary": {"a": 1}, "key": "b", "value": 2},
        {"key": "k", "value": 0, "entries": {"k": "entries win", "z": None}},
        {"dictionary": {"a": 1}, "key": "", "value": 5},
    ]
    test_output = [
        ("updated_dictionary", {"a": 1, "b": 2}),
        ("updated_dictionary", {"k": "entries win", "z": None}),
        ("updated_dictionary", {"a": 1}),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        updated = dict(input_data.dictionary)
        if input_data.value is not None and input_data.key:
            updated[input_data.key] = input_data.value
        updated.update(input_data.entries)
        yield "updated_dictionary", updated


class RemoveFromDictionaryBlock(Block["RemoveFromDictionaryBlock.Input"]):
    """Copy a dictionary without ``key``; optionally emit the removed value."""

    class Input(BlockSchema):
        dictionary: dict[Any, Any] = pin(description="Dictionary to remove from.")
        key: str | int = pin(description="Key to remove.")
        return_value: bool = pin(False, description="Also emit the removed value.")

    class Output(BlockOutputSchema):
        updated_dictionary: dict[Any, Any] = pin(description="The dictionary without the key.")
        removed_value: Any = pin(description="The value that was removed.")

    id = "46afe2ea-c613-43f8-95ff-6692c3ef6876"
    description = "Removes a key from a dictionary."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"dictionary": {"a": 1, "b": 2}, "key": "a", "return_value": True},
        {"dictionary": {"a": 1}, "key": "a"},
        {"dictionary": {"a": 1}, "key": "nope"},
    ]
    test_output = [
        ("updated_dictionary", {"b": 2}),
        ("removed_value", 1),
        ("updated_dictionary", {}),
        ("error", "Key 'nope' not found in dictionary"),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        updated = dict(input_data.dictionary)
        if input_data.key not in updated:
            yield "error", f"Key '{input_data.key}' not found in dictionary"
            return
        removed = updated.pop(input_data.key)
        yield "updated_dictionary", updated
        if input_data.return_value:
            yield "removed_value", removed


class ReplaceDictionaryValueBlock(Block["ReplaceDictionaryValueBlock.Input"]):
    """Copy a dictionary with an existing key's value replaced; never inserts."""

    class Input(BlockSchema):
        dictionary: dict[Any, Any] = pin(description="Dictionary to update.")
        key: str | int = pin(description="Existing key to overwrite.")
        value: Any = pin(description="New value.")

    class Output(BlockOutputSchema):
        updated_dictionary: dict[Any, Any] = pin(description="The updated dictionary.")
        old_value: Any = pin(description="The value that was replaced.")

    id = "27e31876-18b6-44f3-ab97-f6226d8b3889"
    description = "Replaces the value of an existing key in a dictionary."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"dictionary": {"a": 1}, "key": "a", "value": "new"},
        {"dictionary": {"a": 1}, "key": "b", "value": 2},
    ]
    test_output = [
        ("updated_dictionary", {"a": "new"}),
        ("old_value", 1),
        ("error", "Key 'b' not found in dictionary"),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        updated = dict(input_data.dictionary)
        if input_data.key not in updated:
            yield "error", f"Key '{input_data.key}' not found in dictionary"
            return
        old = updated[input_data.key]
        updated[input_data.key] = input_data.value
        yield "updated_dictionary", updated
        yield "old_value", old


class DictionaryIsEmptyBlock(Block["DictionaryIsEmptyBlock.Input"]):
    """Tell whether a dictionary has no entries."""

    class Input(BlockSchema):
        dictionary: dict[Any, Any] = pin(description="Dictionary to check.")

    class Output(BlockOutputSchema):
        is_empty: bool = pin(description="True when the dictionary is empty.")

    id = "a3cf3f64-6bb9-4cc6-9900-608a0b3359b0"
    description = "Checks whether a dictionary is empty."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [{"dictionary": {}}, {"dictionary": {"a": None}}]
    test_output = [("is_empty", True), ("is_empty", False)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "is_empty", len(input_data.dictionary) == 0
