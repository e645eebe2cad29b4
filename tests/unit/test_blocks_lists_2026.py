"""The 2026 list blocks beyond their vectors: content equality and bounded nesting."""

from __future__ import annotations

from typing import Any

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.lists_2026 import (
    MAX_DEPTH,
    FlattenListBlock,
    ListDifferenceBlock,
    ListIntersectionBlock,
    content_key,
    flatten,
    nesting_depth,
)
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings


def _context() -> BlockContext:
    return BlockContext(settings=BlockSettings(), http=None)  # type: ignore[arg-type]


def _nested(levels: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(levels):
        value = [value]
    return value


def test_content_keys_ignore_dict_order_and_keep_kinds_apart() -> None:
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key([["a", 1]]) != content_key({"a": 1})
    assert content_key([1, 2]) != content_key({1, 2})


async def test_difference_and_intersection_compare_by_content() -> None:
    a = [{"id": 1}, {"id": 2}, [1, 2], {"id": 1}]
    b = [{"id": 1}, [1, 2]]
    out = await collect_outputs(ListDifferenceBlock(), {"list_a": a, "list_b": b}, _context())
    assert out == [("difference", [{"id": 2}]), ("length", 1)]
    out = await collect_outputs(ListIntersectionBlock(), {"list_a": a, "list_b": b}, _context())
    assert out == [("intersection", [{"id": 1}, [1, 2]]), ("length", 2)]


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    deep = _nested(MAX_DEPTH + 50)
    assert nesting_depth(deep) == MAX_DEPTH + 1
    assert flatten(_nested(10), 3) == [_nested(6)]  # three levels opened below the top
    assert flatten(_nested(MAX_DEPTH - 1), -1) == [1]


async def test_flatten_errors_like_autogpt() -> None:
    out = await collect_outputs(
        FlattenListBlock(), {"nested_list": [1], "max_depth": -2}, _context()
    )
    assert out == [("error", "max_depth must be -1 (unlimited) or a non-negative integer, got -2")]
    out = await collect_outputs(
        FlattenListBlock(), {"nested_list": _nested(MAX_DEPTH + 5)}, _context()
    )
    assert out[0][0] == "error" and "maximum depth of 1000" in out[0][1]
