"""Limits of the template sandbox and the regex guard used by text blocks."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from autoplat.blocks import safe_regex
from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.text import ExtractTextInformationBlock, MatchTextPatternBlock
from autoplat.blocks.settings import BlockSettings
from autoplat.blocks.templating import TemplateRenderError, render_template
from autoplat.errors import BlockRunError


async def test_renders_values() -> None:
    assert await render_template("{{ a }}-{{ b|upper }}", {"a": 1, "b": "x"}) == "1-X"
    assert await render_template("{{ missing }}", {}) == ""


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ''.__class__.__mro__ }}", "template error"),
        ("{{ x|tojson }}", "template error"),
        ("{{ x|pprint }}", "template error"),
        ("{% for i in range(20000) %}{% endfor %}", "range"),
        ("{{ 10 ** 5000 }}", "limited"),
        ("{{ 'ab' * 100000 }}", "too long"),
        ("{{ lipsum() }}", "template error"),
        ("{% if %}", "template error"),
    ],
)
async def test_sandbox_refuses(template: str, message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        await render_template(template, {"x": {"a": 1}})


async def test_mutation_is_refused() -> None:
    with pytest.raises(TemplateRenderError):
        await render_template("{{ items.append(1) }}", {"items": []})


async def test_output_cap() -> None:
    template = "{% for i in range(9999) %}{{ text }}{% endfor %}"
    with pytest.raises(TemplateRenderError, match="over 1000 characters"):
        await render_template(template, {"text": "0123456789"}, max_output=1000)


async def test_time_limit_stops_a_slow_template() -> None:
    slow = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match="longer than"):
        await render_template(slow, {}, time_limit=0.3)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("pattern", "risky"),
    [
        (r"(a+)+$", True),
        (r"(\w*)*x", True),
        (r"(a|b)+", False),
        (r"(x+y){2,}", True),
        (r"(.)\1", True),
        (r"[(a+)]+", False),
        (r"\d+-\d+", False),
        (r"(?:ab)+c*", False),
    ],
)
def test_risky_pattern_heuristic(pattern: str, risky: bool) -> None:
    assert safe_regex.looks_risky(pattern) is risky


@pytest.fixture
async def context() -> Any:
    async with httpx.AsyncClient() as http:
        yield BlockContext(settings=BlockSettings(), http=http)


async def test_catastrophic_pattern_times_out_in_a_child(
    context: BlockContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_regex, "RISKY_TIMEOUT", 1.0)
    subject = "a" * 40 + "!"
    started = time.monotonic()
    outputs = [
        pair
        async for pair in ExtractTextInformationBlock().execute(
            {"text": subject, "pattern": r"(a+)+$"}, context
        )
    ]
    assert outputs == [("negative", subject), ("matched_results", []), ("matched_count", 0)]
    assert time.monotonic() - started < 5
    with pytest.raises(BlockRunError, match="longer than"):
        async for _ in MatchTextPatternBlock().execute(
            {"text": subject, "match": r"(a+)+$", "data": "x"}, context
        ):
            pass


async def test_risky_but_quick_pattern_still_matches(context: BlockContext) -> None:
    outputs = [
        pair
        async for pair in ExtractTextInformationBlock().execute(
            {"text": "abab", "pattern": r"((ab)+)", "group": 1}, context
        )
    ]
    assert outputs[0] == ("positive", "abab")
