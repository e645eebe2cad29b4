"""Run a block's own test vectors (blocks.md §8)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from autoplat.blocks.base import Block, BlockContext


def expected_matches(expected: Any, actual: Any) -> bool:
    """Equal, an instance of an expected type, or accepted by an expected predicate."""
    if isinstance(expected, type):
        return isinstance(actual, expected)
    if callable(expected) and not isinstance(expected, type):
        predicate: Callable[[Any], Any] = expected
        try:
            return bool(predicate(actual))
        except Exception:
            return False
    return bool(expected == actual)


def _describe(expected: Any) -> str:
    if isinstance(expected, type):
        return f"<any {expected.__name__}>"
    if callable(expected):
        try:
            source = inspect.getsource(expected).strip()
        except (OSError, TypeError):
            source = getattr(expected, "__name__", "predicate")
        return f"<predicate {source}>"
    return repr(expected)


async def collect_outputs(
    block: Block[Any], data: dict[str, Any], context: BlockContext
) -> list[tuple[str, Any]]:
    """Run one input through ``execute``; a failure ends the list with ``("error", message)``."""
    outputs: list[tuple[str, Any]] = []
    try:
        async for pin, value in block.execute(data, context):
            outputs.append((pin, value))
    except Exception as exc:
        outputs.append(("error", str(exc)))
    return outputs


async def run_self_test(block: Block[Any], context: BlockContext) -> None:
    """Run every test input and compare all outputs, in order, with ``test_output``."""
    if not block.test_input:
        raise AssertionError(f"{block.name} has no test vectors")
    stand_in = getattr(block, "test_subgraphs", None)
    if context.subgraphs is None and callable(stand_in):
        # Blocks that run sub-graphs bring a stand-in for the executor's runner.
        context = dataclasses.replace(context, subgraphs=stand_in())
    prepare = getattr(block, "test_context", None)
    if callable(prepare):
        # Blocks that call outside services (LLMs) bring offline stand-ins for them.
        context = prepare(context)
    actual: list[tuple[str, Any]] = []
    for data in block.test_input:
        actual.extend(await collect_outputs(block, data, context))
    expected = list(block.test_output)
    problems: list[str] = []
    for index in range(max(len(actual), len(expected))):
        got = actual[index] if index < len(actual) else None
        want = expected[index] if index < len(expected) else None
        if (
            got is None
            or want is None
            or got[0] != want[0]
            or not expected_matches(want[1], got[1])
        ):
            problems.append(f"  #{index}: expected {_pair(want)}, got {got!r}")
    if problems:
        raise AssertionError(
            f"{block.name} self-test: {len(actual)} outputs, {len(expected)} expected\n"
            + "\n".join(problems)
        )


def _pair(pair: tuple[str, Any] | None) -> str:
    if pair is None:
        return "nothing"
    return f"({pair[0]!r}, {_describe(pair[1])})"
