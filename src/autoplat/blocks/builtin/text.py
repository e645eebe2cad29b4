"""Text blocks: regex routing and extraction, templates, joining, splitting (blocks.md §3.6)."""

from __future__ import annotations

import json
import re
from typing import Any

from autoplat.blocks import safe_regex
from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.convert import to_json_safe
from autoplat.blocks.schema import pin
from autoplat.blocks.templating import render_template
from autoplat.errors import BlockRunError


def _subject(text: Any) -> str:
    """The text a pattern is applied to: strings as they are, anything else as JSON."""
    return text if isinstance(text, str) else json.dumps(to_json_safe(text))


def _flags(case_sensitive: bool, dot_all: bool) -> int:
    flags = 0 if case_sensitive else re.IGNORECASE
    return flags | re.DOTALL if dot_all else flags


class MatchTextPatternBlock(Block["MatchTextPatternBlock.Input"]):
    """Route data to ``positive`` or ``negative`` depending on a regex search."""

    class Input(BlockSchema):
        text: Any = pin(description="Text (or value, matched as JSON) to search.")
        match: str = pin(description="Regular expression to search for.")
        data: Any = pin(description="Value to forward (the text when empty).")
        case_sensitive: bool = pin(True, description="Match case exactly.")
        dot_all: bool = pin(True, description="Let '.' match newlines.")

    class Output(BlockOutputSchema):
        positive: Any = pin(description="Forwarded when the pattern was found.")
        negative: Any = pin(description="Forwarded when it was not.")

    id = "3060088f-6ed9-4928-9ba7-9c92823a7ccd"
    description = "Forwards data to 'positive' or 'negative' depending on a regex match."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"text": "Order #123 shipped", "match": r"#\d+", "data": "yes"},
        {"text": "nothing here", "match": r"\d", "data": "x"},
        {"text": {"k": "Value"}, "match": "value", "data": "", "case_sensitive": False},
        {"text": "a", "match": "(", "data": 1},
    ]
    test_output = [
        ("positive", "yes"),
        ("negative", "x"),
        ("positive", {"k": "Value"}),
        ("error", lambda msg: "invalid pattern" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        flags = _flags(input_data.case_sensitive, input_data.dot_all)
        try:
            found = await safe_regex.search(input_data.match, _subject(input_data.text), flags)
        except re.error as exc:
            raise BlockRunError(f"invalid pattern: {exc}") from exc
        payload = input_data.data or input_data.text
        yield ("positive" if found else "negative"), payload


class ExtractTextInformationBlock(Block["ExtractTextInformationBlock.Input"]):
    """Extract regex matches (one group) from text."""

    class Input(BlockSchema):
        text: Any = pin(description="Text (or value, searched as JSON) to extract from.")
        pattern: str = pin(description="Regular expression.")
        group: int = pin(0, description="Group to extract (0 = whole match).")
        case_sensitive: bool = pin(True, description="Match case exactly.")
        dot_all: bool = pin(True, description="Let '.' match newlines.")
        find_all: bool = pin(False, description="Extract every match, not just the first.")

    class Output(BlockOutputSchema):
        positive: str = pin(description="One extracted piece (emitted once per match).")
        negative: str = pin(description="The text, when nothing matched.")
        matched_results: list[str] = pin(description="All extracted pieces.")
        matched_count: int = pin(description="Number of extracted pieces.")

    id = "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0"
    description = "Extracts parts of a text matching a regular expression."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"text": "a1 b22 c333", "pattern": r"([a-z])(\d+)", "group": 2, "find_all": True},
        {"text": "a1 b22", "pattern": r"\d+"},
        {"text": "no digits", "pattern": r"\d"},
        {"text": "abc", "pattern": "(unclosed"},
        {"text": {"n": 1}, "pattern": "x"},
    ]
    test_output = [
        ("positive", "1"),
        ("positive", "22"),
        ("positive", "333"),
        ("matched_results", ["1", "22", "333"]),
        ("matched_count", 3),
        ("positive", "1"),
        ("matched_results", ["1"]),
        ("matched_count", 1),
        ("negative", "no digits"),
        ("matched_results", []),
        ("matched_count", 0),
        ("negative", "abc"),
        ("matched_results", []),
        ("matched_count", 0),
        ("negative", '{"n": 1}'),
        ("matched_results", []),
        ("matched_count", 0),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        subject = _subject(input_data.text)
        extraction = await safe_regex.extract(
            input_data.pattern,
            subject,
            _flags(input_data.case_sensitive, input_data.dot_all),
            input_data.group,
            input_data.find_all,
        )
        for piece in extraction.pieces:
            yield "positive", piece
        if not extraction.pieces:
            # The pin is text: a non-string input goes out as the JSON it was searched as.
            yield "negative", subject
        yield "matched_results", extraction.pieces
        yield "matched_count", len(extraction.pieces)


class FillTextTemplateBlock(Block["FillTextTemplateBlock.Input"]):
    """Render a sandboxed Jinja2 template with ``values``."""

    class Input(BlockSchema):
        values: dict[str, Any] = pin(description="Variables of the template.")
        format: str = pin(description="Jinja2 template, e.g. 'Hello {{ name }}'.")
        escape_html: bool = pin(False, description="HTML-escape inserted values.")

    class Output(BlockOutputSchema):
        output: str = pin(description="The rendered text.")

    id = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
    description = "Fills a text template (Jinja2) with values."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"values": {"name": "Ada", "n": 2}, "format": "Hi {{ name }}, you have {{ n }} tasks"},
        {"values": {"items": ["a", "b"]}, "format": "{% for i in items %}[{{ i }}]{% endfor %}"},
        {"values": {"x": 3.14159}, "format": '{{ x|format("%.2f") }}'},
        {"values": {"t": "<i>"}, "format": "{{ t }}", "escape_html": True},
        {"values": {}, "format": "{{ 2 ** 100000 }}"},
    ]
    test_output = [
        ("output", "Hi Ada, you have 2 tasks"),
        ("output", "[a][b]"),
        ("output", "3.14"),
        ("output", "&lt;i&gt;"),
        ("error", lambda msg: "limited" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield (
            "output",
            await render_template(
                input_data.format, input_data.values, escape_html=input_data.escape_html
            ),
        )


class CombineTextsBlock(Block["CombineTextsBlock.Input"]):
    """Join strings with a delimiter."""

    class Input(BlockSchema):
        input: list[str] = pin(description="Texts to join.")
        delimiter: str = pin("", description="Placed between texts.")

    class Output(BlockOutputSchema):
        output: str = pin(description="The joined text.")

    id = "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"
    description = "Joins several texts into one."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [{"input": ["a", "b", "c"]}, {"input": ["x", "y"], "delimiter": ", "}]
    test_output = [("output", "abc"), ("output", "x, y")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "output", input_data.delimiter.join(input_data.input)


class TextSplitBlock(Block["TextSplitBlock.Input"]):
    """Split text on a literal delimiter."""

    class Input(BlockSchema):
        text: str = pin(description="Text to split.")
        delimiter: str = pin(description="Literal separator.")
        strip: bool = pin(True, description="Trim whitespace around each piece.")

    class Output(BlockOutputSchema):
        texts: list[str] = pin(description="The pieces.")

    id = "d5ea33c8-a575-477a-b42f-2fe3be5055ec"
    description = "Splits a text into pieces on a delimiter."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"text": "a, b ,c", "delimiter": ","},
        {"text": "a, b", "delimiter": ",", "strip": False},
        {"text": "", "delimiter": ","},
        {"text": "abc", "delimiter": ""},
    ]
    test_output = [
        ("texts", ["a", "b", "c"]),
        ("texts", ["a", " b"]),
        ("texts", []),
        ("error", lambda msg: "empty" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if not input_data.text:
            yield "texts", []
            return
        if not input_data.delimiter:
            raise BlockRunError("delimiter must not be empty")
        pieces = input_data.text.split(input_data.delimiter)
        yield "texts", [p.strip() for p in pieces] if input_data.strip else pieces


class TextReplaceBlock(Block["TextReplaceBlock.Input"]):
    """Replace every occurrence of a substring."""

    class Input(BlockSchema):
        text: str = pin(description="Text to change.")
        old: str = pin(description="Substring to replace.")
        new: str = pin(description="Replacement.")

    class Output(BlockOutputSchema):
        output: str = pin(description="The changed text.")

    id = "7e7c87ab-3469-4bcc-9abe-67705091b713"
    description = "Replaces every occurrence of a substring in a text."
    categories = (BlockCategory.TEXT,)
    input_schema = Input
    output_schema = Output
    test_input = [{"text": "a.b.c", "old": ".", "new": "/"}]
    test_output = [("output", "a/b/c")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "output", input_data.text.replace(input_data.old, input_data.new)
