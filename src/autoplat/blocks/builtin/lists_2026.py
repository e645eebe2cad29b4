"""AutoGPT's 2026 list utilities: flatten, interleave, zip, difference, intersection.

Invariant: every block works on any JSON value and is bounded. Nesting is walked with an
explicit stack (never Python recursion), and flattening refuses input nested deeper than
MAX_DEPTH levels with an error instead of a RecursionError. Membership tests compare values
by content: lists, dicts and sets are turned into hashable keys (dict key order ignored), so
``[1, 2]`` in one list matches ``[1, 2]`` in the other, as on AutoGPT.
"""

from __future__ import annotations

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

#: Deepest nesting a list may have (AutoGPT's limit too).
MAX_DEPTH = 1000


def content_key(value: Any) -> Any:
    """A hashable stand-in for ``value`` that is equal for equal contents."""
    if isinstance(value, dict):
        items = ((content_key(k), content_key(v)) for k, v in value.items())
        return ("dict", tuple(sorted(items, key=lambda kv: (str(type(kv[0])), str(kv[0])))))
    if isinstance(value, list | tuple):
        return ("list", tuple(content_key(item) for item in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(content_key(item) for item in value))
    return value


def nesting_depth(value: list[Any]) -> int:
    """How deep ``value`` nests: 1 for a flat (or empty) list, +1 per level of lists inside.

    An empty inner list counts as one more level, as on AutoGPT; the walk stops once it
    passes MAX_DEPTH (the answer is then just over it).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return depth
        if not isinstance(item, list):
            deepest = max(deepest, depth)
        elif not item:
            deepest = max(deepest, depth + 1)
        else:
            stack.extend((child, depth + 1) for child in item)
    return deepest


def flatten(value: list[Any], max_depth: int) -> list[Any]:
    """The leaves of ``value`` in order, opening at most ``max_depth`` levels (-1: all)."""
    out: list[Any] = []
    # Each frame: an iterator over one list and how deep that list sits.
    stack: list[tuple[Any, int]] = [(iter(value), 0)]
    while stack:
        items, depth = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
            continue
        if isinstance(item, list) and (max_depth == -1 or depth < max_depth):
            if depth + 1 > MAX_DEPTH:
                raise BlockRunError(
                    f"Flattening exceeded maximum depth of {MAX_DEPTH} levels. "
                    "Input may be too deeply nested."
                )
            stack.append((iter(item), depth + 1))
        else:
            out.append(item)
    return out


_END = object()


class FlattenListBlock(Block["FlattenListBlock.Input"]):
    """Flatten nested lists into one list, completely or ``max_depth`` levels deep."""

    class Input(BlockSchema):
        nested_list: list[Any] = pin(description="A possibly nested list to flatten.")
        max_depth: int = pin(
            -1, advanced=True, description="Levels to open: -1 opens all, 1 only the first."
        )

    class Output(BlockOutputSchema):
        flattened_list: list[Any] = pin(description="The leaves, in order.")
        length: int = pin(description="Number of items in the flattened list.")
        original_depth: int = pin(description="How deeply the input list nested.")

    id = "cc45bb0f-d035-4756-96a7-fe3e36254b4d"
    description = (
        "Flattens a nested list structure into a single flat list. Supports configurable "
        "maximum flattening depth."
    )
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"nested_list": [[1, 2], [3, [4, 5]]]},
        {"nested_list": [1, [2, [3, [4]]]]},
        {"nested_list": [1, [2, [3, [4]]], 5], "max_depth": 1},
        {"nested_list": []},
        {"nested_list": [1, 2, 3]},
    ]
    test_output = [
        ("flattened_list", [1, 2, 3, 4, 5]),
        ("length", 5),
        ("original_depth", 3),
        ("flattened_list", [1, 2, 3, 4]),
        ("length", 4),
        ("original_depth", 4),
        ("flattened_list", [1, 2, [3, [4]], 5]),
        ("length", 4),
        ("original_depth", 4),
        ("flattened_list", []),
        ("length", 0),
        ("original_depth", 1),
        ("flattened_list", [1, 2, 3]),
        ("length", 3),
        ("original_depth", 1),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if input_data.max_depth < -1:
            raise BlockRunError(
                "max_depth must be -1 (unlimited) or a non-negative integer, "
                f"got {input_data.max_depth}"
            )
        depth = nesting_depth(input_data.nested_list)
        flat = flatten(input_data.nested_list, input_data.max_depth)
        yield "flattened_list", flat
        yield "length", len(flat)
        yield "original_depth", depth


class InterleaveListsBlock(Block["InterleaveListsBlock.Input"]):
    """Take one item from each list in turn; exhausted lists drop out."""

    class Input(BlockSchema):
        lists: list[list[Any]] = pin(description="The lists to interleave.")

    class Output(BlockOutputSchema):
        interleaved_list: list[Any] = pin(description="Items alternating between the lists.")
        length: int = pin(description="Number of items in the result.")

    id = "9f616084-1d9f-4f8e-bc00-5b9d2a75cd75"
    description = (
        "Interleaves elements from multiple lists in round-robin fashion, alternating "
        "between sources."
    )
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"lists": [[1, 2, 3], ["a", "b", "c"]]},
        {"lists": [[1, 2, 3], ["a", "b"], ["x", "y", "z"]]},
        {"lists": [[1], [2], [3]]},
        {"lists": []},
    ]
    test_output = [
        ("interleaved_list", [1, "a", 2, "b", 3, "c"]),
        ("length", 6),
        ("interleaved_list", [1, "a", "x", 2, "b", "y", 3, "z"]),
        ("length", 8),
        ("interleaved_list", [1, 2, 3]),
        ("length", 3),
        ("interleaved_list", []),
        ("length", 0),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        sources = input_data.lists
        longest = max((len(items) for items in sources), default=0)
        out = [items[i] for i in range(longest) for items in sources if i < len(items)]
        yield "interleaved_list", out
        yield "length", len(out)


class ZipListsBlock(Block["ZipListsBlock.Input"]):
    """Group the i-th items of every list; stop at the shortest or pad to the longest."""

    class Input(BlockSchema):
        lists: list[list[Any]] = pin(description="The lists to zip together.")
        pad_to_longest: bool = pin(
            False, advanced=True, description="Pad short lists with fill_value (else truncate)."
        )
        fill_value: Any = pin(None, advanced=True, description="The padding value.")

    class Output(BlockOutputSchema):
        zipped_list: list[list[Any]] = pin(description="The groups of corresponding items.")
        length: int = pin(description="Number of groups.")

    id = "0d0e684f-5cb9-4c4b-b8d1-47a0860e0c07"
    description = (
        "Zips multiple lists together into a list of grouped elements. Supports padding to "
        "longest or truncating to shortest."
    )
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"lists": [[1, 2, 3], ["a", "b", "c"]]},
        {"lists": [[1, 2, 3], ["a", "b"]]},
        {"lists": [[1, 2], ["a", "b", "c"]], "pad_to_longest": True, "fill_value": 0},
        {"lists": []},
    ]
    test_output = [
        ("zipped_list", [[1, "a"], [2, "b"], [3, "c"]]),
        ("length", 3),
        ("zipped_list", [[1, "a"], [2, "b"]]),
        ("length", 2),
        ("zipped_list", [[1, "a"], [2, "b"], [0, "c"]]),
        ("length", 3),
        ("zipped_list", []),
        ("length", 0),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        sources = input_data.lists
        if not sources:
            groups: list[list[Any]] = []
        elif input_data.pad_to_longest:
            longest = max(len(items) for items in sources)
            fill = input_data.fill_value
            groups = [
                [items[i] if i < len(items) else fill for items in sources] for i in range(longest)
            ]
        else:
            groups = [list(group) for group in zip(*sources, strict=False)]
        yield "zipped_list", groups
        yield "length", len(groups)


class ListDifferenceBlock(Block["ListDifferenceBlock.Input"]):
    """Items of ``list_a`` missing from ``list_b`` (or, symmetric, in exactly one of them)."""

    class Input(BlockSchema):
        list_a: list[Any] = pin(description="The list whose items are kept.")
        list_b: list[Any] = pin(description="Items found here are removed from list_a.")
        symmetric: bool = pin(
            False, advanced=True, description="Items in either list but not in both."
        )

    class Output(BlockOutputSchema):
        difference: list[Any] = pin(description="The items that differ.")
        length: int = pin(description="Number of items in the difference.")

    id = "05309873-9d61-447e-96b5-b804e2511829"
    description = (
        "Computes the difference between two lists. Returns elements in the first list not "
        "found in the second, or symmetric difference."
    )
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"list_a": [1, 2, 3, 4, 5], "list_b": [3, 4, 5, 6, 7]},
        {"list_a": [1, 2, 3, 4, 5], "list_b": [3, 4, 5, 6, 7], "symmetric": True},
        {"list_a": ["a", "b", "c"], "list_b": ["b"]},
        {"list_a": [], "list_b": [1, 2, 3]},
    ]
    test_output = [
        ("difference", [1, 2]),
        ("length", 2),
        ("difference", [1, 2, 6, 7]),
        ("length", 4),
        ("difference", ["a", "c"]),
        ("length", 2),
        ("difference", []),
        ("length", 0),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        a, b = input_data.list_a, input_data.list_b
        in_b = {content_key(item) for item in b}
        out = [item for item in a if content_key(item) not in in_b]
        if input_data.symmetric:
            in_a = {content_key(item) for item in a}
            out += [item for item in b if content_key(item) not in in_a]
        yield "difference", out
        yield "length", len(out)


class ListIntersectionBlock(Block["ListIntersectionBlock.Input"]):
    """Items present in both lists, once each, in ``list_a``'s order."""

    class Input(BlockSchema):
        list_a: list[Any] = pin(description="The first list (its order is kept).")
        list_b: list[Any] = pin(description="The second list.")

    class Output(BlockOutputSchema):
        intersection: list[Any] = pin(description="Items found in both lists.")
        length: int = pin(description="Number of items in the intersection.")

    id = "b6eb08b6-dbe3-411b-b9b4-2508cb311a1f"
    description = "Computes the intersection of two lists, returning only elements present in both."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"list_a": [1, 2, 3, 4, 5], "list_b": [3, 4, 5, 6, 7]},
        {"list_a": ["a", "b", "c"], "list_b": ["c", "d", "e"]},
        {"list_a": [1, 2], "list_b": [3, 4]},
        {"list_a": [], "list_b": [1, 2, 3]},
    ]
    test_output = [
        ("intersection", [3, 4, 5]),
        ("length", 3),
        ("intersection", ["c"]),
        ("length", 1),
        ("intersection", []),
        ("length", 0),
        ("intersection", []),
        ("length", 0),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        in_b = {content_key(item) for item in input_data.list_b}
        seen: set[Any] = set()
        out = []
        for item in input_data.list_a:
            key = content_key(item)
            if key in in_b and key not in seen:
                seen.add(key)
                out.append(item)
        yield "intersection", out
        yield "length", len(out)
