"""Arithmetic and counting blocks (blocks.md §3.8)."""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Iterable
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


class Operation(enum.StrEnum):
    """Operations of CalculatorBlock."""

    ADD = "Add"
    SUBTRACT = "Subtract"
    MULTIPLY = "Multiply"
    DIVIDE = "Divide"
    POWER = "Power"


_OPERATIONS: dict[Operation, Callable[[float, float], Any]] = {
    Operation.ADD: operator.add,
    Operation.SUBTRACT: operator.sub,
    Operation.MULTIPLY: operator.mul,
    Operation.DIVIDE: operator.truediv,
    Operation.POWER: operator.pow,
}


class CalculatorBlock(Block["CalculatorBlock.Input"]):
    """Add, subtract, multiply, divide or raise two numbers."""

    class Input(BlockSchema):
        operation: Operation = pin(description="Operation to perform.")
        a: float = pin(description="First operand.")
        b: float = pin(description="Second operand.")
        round_result: bool = pin(False, description="Round to the nearest integer.")

    class Output(BlockOutputSchema):
        result: float = pin(description="The result (infinity on division by zero).")

    id = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
    description = "Performs a basic arithmetic operation on two numbers."
    categories = (BlockCategory.LOGIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"operation": "Add", "a": 2, "b": 3.5},
        {"operation": "Divide", "a": 1, "b": 0},
        {"operation": "Power", "a": 2, "b": 10},
        {"operation": "Multiply", "a": 2.5, "b": 3, "round_result": True},
        {"operation": "Power", "a": 10.0, "b": 1000},
    ]
    test_output = [
        ("result", 5.5),
        ("result", math.inf),
        ("result", 1024.0),
        ("result", 8),
        ("result", lambda value: math.isnan(value)),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        try:
            result = _OPERATIONS[input_data.operation](input_data.a, input_data.b)
            if input_data.round_result:
                result = round(result)
        except ZeroDivisionError:
            result = math.inf
        except (ArithmeticError, ValueError, TypeError):
            result = math.nan
        yield "result", result


class CountItemsBlock(Block["CountItemsBlock.Input"]):
    """Count the items of a collection (-1 for things that are not collections)."""

    class Input(BlockSchema):
        collection: Any = pin(description="String, list, dictionary or other collection.")

    class Output(BlockOutputSchema):
        count: int = pin(description="Number of items, or -1.")

    id = "3c9c2f42-b0c3-435f-ba35-05f7a25c772a"
    description = "Counts the items in a collection."
    categories = (BlockCategory.LOGIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"collection": [1, 2, 3]},
        {"collection": "hello"},
        {"collection": {"a": 1}},
        {"collection": 42},
    ]
    test_output = [("count", 3), ("count", 5), ("count", 1), ("count", -1)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        collection = input_data.collection
        if isinstance(collection, str | list | tuple | set | frozenset | dict):
            yield "count", len(collection)
        elif isinstance(collection, Iterable):
            yield "count", sum(1 for _ in collection)
        else:
            yield "count", -1
