"""Blocks bound what graph authors can make them do: fan-out, waits, nesting, arithmetic."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.iteration import StepThroughItemsBlock
from autoplat.blocks.builtin.maths import CalculatorBlock
from autoplat.blocks.builtin.time_blocks import CountdownTimerBlock
from autoplat.blocks.builtin.xml_parser import MAX_DEPTH, XMLParserBlock
from autoplat.blocks.outbound import OutboundHttp
from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings
from autoplat.errors import BlockRunError


@pytest.fixture
async def context() -> AsyncIterator[BlockContext]:
    settings = BlockSettings(step_through_max_items=3)
    async with OutboundHttp(settings) as outbound:
        yield BlockContext(settings=settings, http=outbound.client_for("u"))


async def run(block: Block[Any], data: dict[str, Any], context: BlockContext) -> list[Any]:
    return [pair async for pair in block.execute(data, context)]


def test_the_step_through_cap_is_a_setting() -> None:
    assert Settings().step_through_max_items == 10_000
    settings = Settings(step_through_max_items=5)
    assert BlockSettings.from_settings(settings).step_through_max_items == 5


async def test_step_through_items_refuses_more_items_than_the_setting(
    context: BlockContext,
) -> None:
    assert len(await run(StepThroughItemsBlock(), {"items": [1, 2, 3]}, context)) == 6
    too_many: list[dict[str, Any]] = [
        {"items": [1, 2, 3, 4]},
        {"items_str": "[1, 2, 3, 4]"},
        {"items_object": dict.fromkeys("abcd", 1)},
    ]
    for data in too_many:
        with pytest.raises(BlockRunError, match="more than 3 items"):
            await run(StepThroughItemsBlock(), data, context)


async def test_a_countdown_cannot_repeat_or_wait_without_bound(context: BlockContext) -> None:
    assert len(await run(CountdownTimerBlock(), {"repeat": 3}, context)) == 3
    with pytest.raises(BlockRunError, match="repeat may be at most 3"):
        await run(CountdownTimerBlock(), {"repeat": 4}, context)
    with pytest.raises(BlockRunError, match="at most 30 days"):
        await run(CountdownTimerBlock(), {"days": str(10**100)}, context)


async def test_xml_nested_too_deep_is_refused_and_big_xml_is_parsed(
    context: BlockContext,
) -> None:
    deep = "<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1)
    with pytest.raises(BlockRunError, match="nest more than"):
        await run(XMLParserBlock(), {"input_xml": deep}, context)
    big = "<r>" + "<i>x</i>" * 20_000 + "</r>"  # parsed in a worker thread
    [(pin, parsed)] = await run(XMLParserBlock(), {"input_xml": big}, context)
    assert pin == "parsed_xml" and len(parsed["r"]) == 20_000


async def test_arithmetic_overflow_is_a_value_not_a_hang(context: BlockContext) -> None:
    [(_, result)] = await run(
        CalculatorBlock(), {"operation": "Power", "a": 10.0, "b": 10.0**18}, context
    )
    assert math.isnan(result) or math.isinf(result)
