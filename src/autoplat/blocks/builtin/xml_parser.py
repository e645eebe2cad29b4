"""XML-ish markup to nested dictionaries (blocks.md §3.13).

Follows the conventions of the small markup parser AutoGPT uses for LLM output: tags only
(attributes are not supported), tag names lower-cased with inner whitespace turned into
``_``, text trimmed, comments dropped. An element with one child becomes ``{tag: child}``;
with several differently named children their dicts are merged; when names repeat the
children become a list of one-key dicts; a leaf maps to its text.

Bounded: at most 10 MiB of input and MAX_DEPTH nested elements (deeper markup is refused,
not a RecursionError), and inputs over PARSE_IN_THREAD characters are parsed in a worker
thread so that the event loop keeps serving meanwhile. The tokenizer's patterns scan each
character a bounded number of times (a failed token is an error, never a retry).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

MAX_XML_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 200
PARSE_IN_THREAD = 64 * 1024
_TOKEN = re.compile(
    r"(?P<comment><!--.*?-->)|(?P<close></\s*[^>]+>)|(?P<open><\s*[^>/]+>)|(?P<text>[^<]+)|(?P<stray><)",
    re.DOTALL,
)


@dataclass(slots=True)
class _Element:
    tag: str
    text: str = ""
    children: list[_Element] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {self.tag: _children_value(self.children) if self.children else self.text}


def _children_value(children: list[_Element]) -> Any:
    if len(children) == 1:
        return children[0].to_dict()
    tags = [child.tag for child in children]
    if len(set(tags)) == len(tags):
        merged: dict[str, Any] = {}
        for child in children:
            merged.update(child.to_dict())
        return merged
    return [child.to_dict() for child in children]


def _tag_name(raw: str) -> str:
    name = raw.split("|", 1)[0].strip()
    return re.sub(r"\s+", "_", name).lower()


def parse_markup(markup: str) -> dict[str, Any]:
    """Parse ``markup`` (exactly one root element) into a dict, or raise BlockRunError."""
    if not markup.strip():
        raise BlockRunError("Validation error for dict: the input XML is empty")
    roots: list[_Element] = []
    stack: list[_Element] = []
    for match in _TOKEN.finditer(markup):
        kind, value = match.lastgroup, match.group()
        if kind == "comment":
            continue
        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                raise BlockRunError(
                    f"Error in input xml syntax: elements nest more than {MAX_DEPTH} deep"
                )
            element = _Element(_tag_name(value[1:-1]))
            (stack[-1].children if stack else roots).append(element)
            stack.append(element)
        elif kind == "close":
            name = _tag_name(value[2:-1])
            if not stack:
                raise BlockRunError(f"Error in input xml syntax: unexpected closing tag </{name}>")
            if stack[-1].tag != name:
                raise BlockRunError(
                    f"Error in input xml syntax: mismatched tags <{stack[-1].tag}> and </{name}>"
                )
            stack.pop()
        elif kind == "text":
            text = value.strip()
            if not text:
                continue
            if not stack:
                raise BlockRunError("Validation error for dict: text outside the root element")
            stack[-1].text += text
        else:
            raise BlockRunError("Error in input xml syntax: stray '<'")
    if stack:
        raise BlockRunError(f"Error in input xml syntax: unclosed tag <{stack[-1].tag}>")
    if len(roots) != 1:
        raise BlockRunError(
            f"Validation error for dict: expected exactly one root element, found {len(roots)}"
        )
    return roots[0].to_dict()


class XMLParserBlock(Block["XMLParserBlock.Input"]):
    """Parse simple XML into a nested dictionary."""

    class Input(BlockSchema):
        input_xml: str = pin(description="XML text with a single root element.")

    class Output(BlockOutputSchema):
        parsed_xml: dict[str, Any] = pin(description="The document as nested dictionaries.")

    id = "286380af-9529-4b55-8be0-1d7c854abdb5"
    description = "Parses XML into a dictionary."
    categories = ()
    input_schema = Input
    output_schema = Output
    test_input = [
        {"input_xml": "<tag1><tag2>content</tag2></tag1>"},
        {"input_xml": "<r><a>1</a><b> 2 </b></r>"},
        {"input_xml": "<r><i>x</i><i>y</i></r>"},
        {"input_xml": "<Domain List><!-- c --><d>a.com</d></Domain List>"},
        {"input_xml": "<a></b>"},
        {"input_xml": "<a/><b/>"},
        {"input_xml": "<a>1</a><b>2</b>"},
    ]
    test_output = [
        ("parsed_xml", {"tag1": {"tag2": "content"}}),
        ("parsed_xml", {"r": {"a": "1", "b": "2"}}),
        ("parsed_xml", {"r": [{"i": "x"}, {"i": "y"}]}),
        ("parsed_xml", {"domain_list": {"d": "a.com"}}),
        ("error", lambda msg: "mismatched" in msg),
        ("error", lambda msg: "syntax" in msg),
        ("error", lambda msg: "exactly one root" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if len(input_data.input_xml.encode()) > MAX_XML_BYTES:
            raise BlockRunError("Validation error for dict: the input XML is larger than 10 MiB")
        markup = input_data.input_xml
        if len(markup) > PARSE_IN_THREAD:
            yield "parsed_xml", await asyncio.to_thread(parse_markup, markup)
        else:
            yield "parsed_xml", parse_markup(markup)
