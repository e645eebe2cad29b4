"""Branching blocks: comparisons and equality routing (blocks.md §3.7)."""

from __future__ import annotations

import contextlib
import enum
import operator
from collections.abc import Callable
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.convert import ConversionError, convert
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError


class ComparisonOperator(enum.StrEnum):
    """Operators of ConditionBlock."""

    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER_THAN = ">"
    LESS_THAN = "<"
    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN_OR_EQUAL = "<="


_OPERATIONS: dict[ComparisonOperator, Callable[[Any, Any], Any]] = {
    ComparisonOperator.EQUAL: operator.eq,
    ComparisonOperator.NOT_EQUAL: operator.ne,
    ComparisonOperator.GREATER_THAN: operator.gt,
    ComparisonOperator.LESS_THAN: operator.lt,
    ComparisonOperator.GREATER_THAN_OR_EQUAL: operator.ge,
    ComparisonOperator.LESS_THAN_OR_EQUAL: operator.le,
}


def _operand(value: Any) -> Any:
    """Strings are stripped and read as numbers when they look like one."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        return text


class ConditionBlock(Block["ConditionBlock.Input"]):
    """Compare two values and route to ``yes_output`` or ``no_output``."""

    class Input(BlockSchema):
        value1: Any = pin(description="Left operand.")
        operator: ComparisonOperator = pin(description="Comparison to apply.")
        value2: Any = pin(description="Right operand.")
        yes_value: Any = pin(None, description="Emitted when true (default: value1).")
        no_value: Any = pin(None, description="Emitted when false (default: value2).")

    class Output(BlockOutputSchema):
        result: bool = pin(description="Outcome of the comparison.")
        yes_output: Any = pin(description="Emitted when the comparison holds.")
        no_output: Any = pin(description="Emitted when it does not.")

    id = "715696a0-e1da-45c8-b209-c2fa9c3b0be6"
    description = "Compares two values and branches on the result."
    categories = (BlockCategory.LOGIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"value1": "10", "operator": ">", "value2": 5, "yes_value": "big"},
        {"value1": 1, "operator": "==", "value2": 2},
        {"value1": " abc ", "operator": "==", "value2": "abc"},
        {"value1": "a", "operator": ">", "value2": 1},
    ]
    test_output = [
        ("result", True),
        ("yes_output", "big"),
        ("result", False),
        ("no_output", 2),
        ("result", True),
        ("yes_output", "abc"),
        ("error", lambda msg: msg.startswith("Comparison failed")),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        left, right = _operand(input_data.value1), _operand(input_data.value2)
        try:
            result = bool(_OPERATIONS[input_data.operator](left, right))
        except Exception as exc:
            raise BlockRunError(f"Comparison failed: {exc}") from exc
        yield "result", result
        if result:
            yield "yes_output", left if input_data.yes_value is None else input_data.yes_value
        else:
            yield "no_output", right if input_data.no_value is None else input_data.no_value


class IfInputMatchesBlock(Block["IfInputMatchesBlock.Input"]):
    """Check ``input == value`` (value coerced to the input's type) and branch."""

    class Input(BlockSchema):
        input: Any = pin(description="Value to check.")
        value: Any = pin(description="Value to compare with.")
        yes_value: Any = pin(None, description="Emitted when they match.")
        no_value: Any = pin(None, description="Emitted when they differ.")

    class Output(BlockOutputSchema):
        result: bool = pin(description="Whether they match.")
        yes_output: Any = pin(description="yes_value, when they match.")
        no_output: Any = pin(description="no_value, when they differ.")

    id = "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2"
    description = "Checks whether the input matches a value and branches."
    categories = (BlockCategory.LOGIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"input": 10, "value": "10", "yes_value": "same", "no_value": "diff"},
        {"input": 10, "value": "None", "yes_value": "same", "no_value": "diff"},
        {"input": "on", "value": "on"},
    ]
    test_output = [
        ("result", True),
        ("yes_output", "same"),
        ("result", False),
        ("no_output", "diff"),
        ("result", True),
        ("yes_output", None),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        left, right = input_data.input, input_data.value
        if left != right and left is not None and right is not None:
            with contextlib.suppress(ConversionError):
                right = convert(right, type(left))
        if left == right:
            yield "result", True
            yield "yes_output", input_data.yes_value
        else:
            yield "result", False
            yield "no_output", input_data.no_value
