"""Sandboxed Jinja2 rendering shared by the text, output and LLM blocks.

Templates come from graph authors, so they run in Jinja's immutable sandbox with a short list
of dangerous helpers removed, capped ``range``/``**``/sequence repetition, an output size cap
and a wall-clock deadline. The render runs in a worker thread; the deadline is also checked
cooperatively inside the render (between output chunks and on every ``range`` step) so that a
timed-out template stops burning CPU soon after the caller has given up on it.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from autoplat.errors import BlockRunError

MAX_RANGE = 10_000
MAX_POWER = 1_000
MAX_REPEAT_LEN = 100_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_OUTPUT = 1_000_000
_REMOVED_FILTERS = ("pprint", "tojson", "urlize", "xmlattr")


class TemplateRenderError(BlockRunError):
    """A template could not be compiled or rendered, ran too long, or produced too much."""

    code = "template_error"


class _Deadline:
    """A monotonic deadline checked from inside the render."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds
        self.seconds = seconds

    def check(self) -> None:
        if time.monotonic() > self.expires:
            raise TemplateRenderError(f"template rendering took longer than {self.seconds:g}s")


class _LimitedEnvironment(ImmutableSandboxedEnvironment):
    """Sandbox that also bounds exponentiation and sequence repetition."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if _too_big(left) or _too_big(right):
                raise TemplateRenderError(f"'**' operands are limited to {MAX_POWER}")
            return operator.pow(left, right)
        if operator_name == "*":
            for seq, count in ((left, right), (right, left)):
                repeats = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if repeats and len(seq) * max(count, 0) > MAX_REPEAT_LEN:
                    raise TemplateRenderError("sequence repetition result is too long")
            return operator.mul(left, right)
        return super().call_binop(context, operator_name, left, right)


def _too_big(number: Any) -> bool:
    return isinstance(number, int | float) and abs(number) > MAX_POWER


def _printf_filter(value: Any, spec: str = "%s") -> str:
    """``value|format("%.2f")``: printf-style formatting of one number (or text)."""
    if "%s" in spec or "%r" in spec:
        return spec % (value,)
    try:
        return spec % (float(value),)
    except (TypeError, ValueError) as exc:
        raise TemplateRenderError(f"format filter: {exc}") from exc


def _build_environment(autoescape: bool, deadline: _Deadline) -> _LimitedEnvironment:
    env = _LimitedEnvironment(autoescape=autoescape)
    for name in _REMOVED_FILTERS:
        env.filters.pop(name, None)
    env.filters["format"] = _printf_filter

    def capped_range(*args: int) -> Iterator[int]:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise TemplateRenderError(f"range() is limited to {MAX_RANGE} items")
        for number in numbers:
            deadline.check()
            yield number

    env.globals.clear()
    env.globals["range"] = capped_range
    return env


def _render_sync(
    template: str,
    values: Mapping[str, Any],
    autoescape: bool,
    deadline: _Deadline,
    max_output: int,
) -> str:
    env = _build_environment(autoescape, deadline)
    try:
        compiled = env.from_string(template)
        parts: list[str] = []
        size = 0
        for chunk in compiled.generate(dict(values)):
            deadline.check()
            size += len(chunk)
            if size > max_output:
                raise TemplateRenderError(f"template output is over {max_output} characters")
            parts.append(chunk)
        return "".join(parts)
    except TemplateRenderError:
        raise
    except TemplateError as exc:
        raise TemplateRenderError(f"template error: {exc}") from exc
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise TemplateRenderError(f"template error: {exc}") from exc


async def render_template(
    template: str,
    values: Mapping[str, Any],
    *,
    escape_html: bool = False,
    time_limit: float = DEFAULT_TIMEOUT,
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> str:
    """Render ``template`` with ``values`` in the sandbox, or raise TemplateRenderError."""
    deadline = _Deadline(time_limit)
    job: Callable[[], str] = lambda: _render_sync(  # noqa: E731
        template, values, escape_html, deadline, max_output
    )
    try:
        return await asyncio.wait_for(asyncio.to_thread(job), timeout=time_limit)
    except TimeoutError as exc:
        raise TemplateRenderError(f"template rendering took longer than {time_limit:g}s") from exc
