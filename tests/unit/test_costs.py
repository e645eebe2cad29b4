"""Cost selection and measurement (blocks.md §7 matching rules)."""

from __future__ import annotations

from typing import Any

import pytest

from autoplat.blocks.base import BlockCost, BlockCostType
from autoplat.credits.costs import (
    NodePrice,
    duration_amount,
    fee_due,
    filter_matches,
    input_size,
    select_cost,
    upfront_amount,
)


@pytest.mark.parametrize(
    ("cost_filter", "value", "expected"),
    [
        ({}, {"anything": 1}, True),
        ({"model": "gpt-4o"}, {"model": "gpt-4o", "prompt": "x"}, True),
        ({"model": "gpt-4o"}, {"model": "gpt-4o-mini"}, False),
        ({"model": "gpt-4o"}, {}, False),
        (
            {"credentials": {"provider": "openai"}},
            {"credentials": {"provider": "openai", "id": 1}},
            True,
        ),
        ({"credentials": {"provider": "openai"}}, {"credentials": {"provider": "groq"}}, False),
        ({"credentials": {"provider": "openai"}}, {"credentials": "openai"}, False),
        ({"api_key": ""}, {}, True),
        ({"api_key": None}, {"api_key": ""}, True),
        ({"api_key": ""}, {"api_key": []}, True),
        ({"api_key": ""}, {"api_key": "secret"}, False),
        ({"count": 0}, {"count": 0}, True),
        ({"count": 0}, {}, False),
        ({"tags": ["a"]}, {"tags": ["a"]}, True),
    ],
)
def test_filter_matching(
    cost_filter: dict[str, Any], value: dict[str, Any], expected: bool
) -> None:
    assert filter_matches(cost_filter, value) is expected


def test_first_matching_cost_applies() -> None:
    costs = (
        BlockCost(cost_amount=6, cost_filter={"model": "big"}),
        BlockCost(cost_amount=3, cost_filter={"model": "mid"}),
        BlockCost(cost_amount=1),
        BlockCost(cost_amount=99, cost_filter={"model": "mid"}),
    )
    assert select_cost(costs, {"model": "mid"}) is costs[1]
    assert select_cost(costs, {"model": "other"}) is costs[2]
    assert select_cost(costs[:2], {"model": "other"}) is None
    assert select_cost((), {}) is None


def test_upfront_amount_by_cost_type() -> None:
    data = {"text": "héllo"}
    assert input_size(data) == len('{"text":"héllo"}'.encode())
    assert upfront_amount(BlockCost(cost_amount=4), data) == 4
    per_byte = BlockCost(cost_amount=2, cost_type=BlockCostType.BYTE)
    assert upfront_amount(per_byte, data) == 2 * input_size(data)
    per_second = BlockCost(cost_amount=5, cost_type=BlockCostType.SECOND)
    assert upfront_amount(per_second, data) == 0
    assert upfront_amount(None, data) == 0


def test_duration_amount_rounds_up_to_whole_credits() -> None:
    per_second = BlockCost(cost_amount=3, cost_type=BlockCostType.SECOND)
    assert duration_amount(per_second, 1.0) == 3
    assert duration_amount(per_second, 1.01) == 4
    assert duration_amount(per_second, 0) == 0
    assert duration_amount(BlockCost(cost_amount=3), 10) == 0
    assert duration_amount(None, 10) == 0


@pytest.mark.parametrize(
    ("fee", "every", "run", "expected"),
    [
        (0, 1, 1, 0),
        (2, 1, 1, 2),
        (2, 1, 7, 2),
        (2, 3, 1, 0),
        (2, 3, 3, 2),
        (2, 3, 6, 2),
        (2, 3, 0, 0),
    ],
)
def test_execution_fee_every_nth_run(fee: int, every: int, run: int, expected: int) -> None:
    assert fee_due(fee, every, run) == expected


def test_node_price_total() -> None:
    assert NodePrice(block_cost=3, execution_fee=2, cost=None).total == 5


def test_operators_price_blocks_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from autoplat.blocks.registry import BlockRegistry
    from autoplat.config import load_settings
    from autoplat.credits.service import CreditService
    from autoplat.db.manager import DatabaseManager

    store_value = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
    costs = '[{"cost_amount": 4, "cost_filter": {"data": "x"}}, {"cost_amount": 1}]'
    monkeypatch.setenv("AUTOPLAT_BLOCK_COSTS", f'{{"{store_value}": {costs}}}')
    monkeypatch.setenv("AUTOPLAT_EXECUTION_FEE", "2")
    monkeypatch.setenv("AUTOPLAT_EXECUTION_FEE_EVERY", "2")
    settings = load_settings()
    blocks = BlockRegistry.builtin().with_cost_overrides(settings.block_costs)
    service = CreditService(settings, DatabaseManager(settings), blocks)
    block = blocks.require(store_value)
    assert service.price(block, {"input": 1, "data": "x"}, run_number=1).total == 4
    assert service.price(block, {"input": 1}, run_number=2).total == 3
    # A block without costs still pays the fee on every 2nd node run.
    note = blocks.require("cc10ff7b-7753-4ff2-9af6-9399b1a7eddc")
    assert service.price(note, {}, run_number=1).total == 0
    assert service.price(note, {}, run_number=4).total == 2


def test_llm_cost_filters_see_the_default_model() -> None:
    from autoplat.blocks.registry import BlockRegistry
    from autoplat.config import Settings
    from autoplat.credits.service import CreditService, input_with_defaults
    from autoplat.db.manager import DatabaseManager

    settings = Settings()
    blocks = BlockRegistry.builtin()
    service = CreditService(settings, DatabaseManager(settings), blocks)
    priced = [b for b in blocks if any(c.cost_filter for c in blocks.costs_for(b.id))]
    assert priced, "the LLM blocks declare model-filtered costs"
    block = priced[0]
    model = input_with_defaults(block, {"prompt": "hi"})["model"]
    assert model
    default = service.price(block, {"prompt": "hi"})
    assert default == service.price(block, {"prompt": "hi", "model": model})
    assert default.block_cost >= 1
