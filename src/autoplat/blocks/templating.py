"""Sandboxed Jinja2 rendering shared by the text, output and LLM blocks.

Templates come from graph authors, so they run in Jinja's immutable sandbox with a short list
of dangerous helpers removed, capped ``range``/``**``/sequence repetition, an output size cap
and a deadline checked inside the render (between output chunks and on every ``range`` step).

That bounds what a template may ask for, not what one step of it may cost: a macro that
calls itself on ``s ~ s``, or ``"x"|center(10**9)``-like arguments, build huge values in
one step, and a thread cannot be stopped. So only *plain* templates render in-process (in a
worker thread): text, ``{{ value }}`` substitutions (names, attribute and item lookups, a few
argument-free filters) and ``{% if %}`` on them, whose work is proportional to their input
and output. Every other template renders in a child process (``sandbox``) with a hard time
limit and a memory limit; whatever goes wrong becomes TemplateRenderError.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from autoplat.blocks import sandbox
from autoplat.errors import AutoplatError, BlockRunError

MAX_TEMPLATE = 1_000_000
#: Seconds a child may take to start (an interpreter and Jinja) on top of the time limit.
CHILD_STARTUP = 2.0
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


# What a plain template (rendered in-process) may contain; see the module docstring.
_PLAIN_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.If,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.CondExpr,
    nodes.Test,
    nodes.Filter,
)
_PLAIN_FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "string", "e", "escape", "length",
     "count", "first", "last", "int", "float", "abs", "round", "default", "d", "list"}
)  # fmt: skip


def _is_plain(node: nodes.Node) -> bool:
    """True when ``node`` holds only constructs whose cost follows their input and output."""
    if not isinstance(node, _PLAIN_NODES):
        return False
    if isinstance(node, nodes.Filter | nodes.Test):
        if isinstance(node, nodes.Filter) and node.name not in _PLAIN_FILTERS:
            return False
        if node.kwargs or node.dyn_args or node.dyn_kwargs:
            return False
        # Only default(...) takes an argument here, and only a constant one.
        if node.args and not (
            node.name in ("default", "d") and all(isinstance(a, nodes.Const) for a in node.args)
        ):
            return False
    return all(_is_plain(child) for child in node.iter_child_nodes())


def _classify(template: str, autoescape: bool) -> bool:
    """Parse ``template``: True when it is plain; TemplateRenderError when it is not valid."""
    env = _build_environment(autoescape, _Deadline(DEFAULT_TIMEOUT))
    try:
        return _is_plain(env.parse(template))
    except TemplateError as exc:
        raise TemplateRenderError(f"template error: {exc}") from exc
    except RecursionError:
        raise TemplateRenderError("template error: nested too deeply") from None


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
    if len(template) > MAX_TEMPLATE:
        raise TemplateRenderError(f"the template is longer than {MAX_TEMPLATE} characters")
    if not await asyncio.to_thread(_classify, template, escape_html):
        return await _render_in_child(template, values, escape_html, time_limit, max_output)
    deadline = _Deadline(time_limit)
    job: Callable[[], str] = lambda: _render_sync(  # noqa: E731
        template, values, escape_html, deadline, max_output
    )
    try:
        return await asyncio.wait_for(asyncio.to_thread(job), timeout=time_limit)
    except TimeoutError as exc:
        raise TemplateRenderError(f"template rendering took longer than {time_limit:g}s") from exc


async def _render_in_child(
    template: str,
    values: Mapping[str, Any],
    escape_html: bool,
    time_limit: float,
    max_output: int,
) -> str:
    # Imported here: the child imports this module, and needs none of pydantic's start-up.
    from autoplat.blocks.convert import to_json_safe

    try:
        request = {
            "template": template,
            "values": to_json_safe(dict(values)),
            "escape_html": escape_html,
            "time_limit": time_limit,
            "max_output": max_output,
        }
    except AutoplatError as exc:
        raise TemplateRenderError(f"template values cannot be used: {exc.message}") from None
    try:
        answer = await sandbox.run_job(
            "template", request, what="the template", timeout=time_limit + CHILD_STARTUP
        )
    except sandbox.ComputationTimeout:
        raise TemplateRenderError(f"template rendering took longer than {time_limit:g}s") from None
    except BlockRunError as exc:  # too much memory, or the child failed
        raise TemplateRenderError(exc.message) from None
    if "error" in answer:
        raise TemplateRenderError(str(answer["error"]))
    return str(answer.get("output", ""))


def child_job(request: dict[str, Any]) -> dict[str, Any]:
    """The render itself, in the sandbox child (the same environment and limits)."""
    deadline = _Deadline(float(request["time_limit"]))
    try:
        output = _render_sync(
            str(request["template"]),
            dict(request["values"]),
            bool(request["escape_html"]),
            deadline,
            int(request["max_output"]),
        )
    except TemplateRenderError as exc:
        return {"error": exc.message}
    except RecursionError:
        return {"error": "template error: recursion too deep"}
    return {"output": output}
