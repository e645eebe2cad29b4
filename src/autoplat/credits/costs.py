"""Pricing a block run: pick the block's first cost whose filter matches, then measure it.

Cost types: ``run`` is a flat amount per run; ``byte`` is the amount times the size of the
node's input as compact JSON (UTF-8 bytes); ``second`` is the amount per second of run time,
rounded up to whole credits. Run and byte costs are known before the block runs; second
costs only after, so the executor charges them as a separate USAGE entry once the run ends.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autoplat.blocks.base import BlockCost, BlockCostType


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, dict | list) and not value)


def filter_matches(cost_filter: Any, value: Any) -> bool:
    """Whether ``value`` satisfies ``cost_filter``: every filter key matches, recursively.

    Empty values (null, ``""``, ``{}``, ``[]``) on both sides count as equal, so a filter
    asking for an empty key also matches a missing one.
    """
    if _is_empty(cost_filter) and _is_empty(value):
        return True
    if isinstance(cost_filter, Mapping):
        if not isinstance(value, Mapping):
            return False
        return all(filter_matches(want, value.get(key)) for key, want in cost_filter.items())
    return bool(cost_filter == value)


def select_cost(costs: Sequence[BlockCost], input_data: Mapping[str, Any]) -> BlockCost | None:
    """The first cost whose filter matches the input, or None (the run is free)."""
    for cost in costs:
        if filter_matches(cost.cost_filter, input_data):
            return cost
    return None


def input_size(input_data: Mapping[str, Any]) -> int:
    """The size of the input as compact JSON, in UTF-8 bytes (what ``byte`` costs measure)."""
    text = json.dumps(input_data, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode())


def upfront_amount(cost: BlockCost | None, input_data: Mapping[str, Any]) -> int:
    """Credits a run costs before it starts (``second`` costs are charged afterwards)."""
    if cost is None:
        return 0
    if cost.cost_type is BlockCostType.RUN:
        return cost.cost_amount
    if cost.cost_type is BlockCostType.BYTE:
        return cost.cost_amount * input_size(input_data)
    return 0


def duration_amount(cost: BlockCost | None, seconds: float) -> int:
    """Credits a run of ``seconds`` costs under a ``second`` cost (0 for other types)."""
    if cost is None or cost.cost_type is not BlockCostType.SECOND or seconds <= 0:
        return 0
    return math.ceil(cost.cost_amount * seconds)


def fee_due(fee: int, every: int, run_number: int) -> int:
    """The execution fee owed by the ``run_number``-th node run (from 1) of an execution."""
    if fee <= 0 or run_number <= 0 or every <= 0:
        return 0
    return fee if run_number % every == 0 else 0


@dataclass(frozen=True, slots=True)
class NodePrice:
    """What one node run is charged before it starts."""

    block_cost: int
    execution_fee: int
    cost: BlockCost | None

    @property
    def total(self) -> int:
        """Block cost plus execution fee."""
        return self.block_cost + self.execution_fee
