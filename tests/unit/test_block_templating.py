"""Limits of the template sandbox used by the text, output and LLM blocks."""

from __future__ import annotations

import time

import pytest

from autoplat.blocks import sandbox
from autoplat.blocks.templating import TemplateRenderError, render_template


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


async def test_plain_templates_render_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_child(*args: object, **kwargs: object) -> dict[str, object]:
        raise AssertionError("a plain template went to a child process")

    monkeypatch.setattr(sandbox, "run_job", no_child)
    values = {"name": "Ada", "user": {"tags": ["x", "y"]}, "n": 0}
    template = "Hi {{ name|upper }} {{ user.tags[1] }}{% if n == 0 %}!{% endif %}{{ z|d('-') }}"
    assert await render_template(template, values) == "Hi ADA y!-"


@pytest.mark.parametrize(
    "template",
    [
        "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}",
        '{{ "x"|center(1000000000) }}',
        '{{ 1|format("%0999999999d") }}',
    ],
)
async def test_templates_that_build_huge_values_in_one_step_are_stopped(template: str) -> None:
    with pytest.raises(TemplateRenderError, match="needed more than"):
        await render_template(template, {})


async def test_syntax_errors_are_reported_without_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_child(*args: object, **kwargs: object) -> dict[str, object]:
        raise AssertionError("a broken template went to a child process")

    monkeypatch.setattr(sandbox, "run_job", no_child)
    with pytest.raises(TemplateRenderError, match="template error"):
        await render_template("{% if %}", {})
    with pytest.raises(TemplateRenderError, match="longer than"):
        await render_template("x" * 1_000_001, {})
