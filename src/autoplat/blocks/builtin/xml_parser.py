"""XML-ish markup to nested dictionaries (blocks.md §3.13).

Follows the conventions of the small markup parser AutoGPT uses for LLM output: tags only
(attributes are not supported), tag names lower-cased with inner whitespace turned into
``_``, text trimmed, comments dropped. An element with one child becomes ``{tag: child}``;
with several differently named children their dicts are merged; when names repeat the
children become a list of one-key dicts; a leaf maps to its text.

Several top-level elements with distinct names parse as the merge of their dicts, by the
rule for an element's children (``<a>1</a><b>2</b>`` is ``{"a": "1", "b": "2"}``): the shared
AutoGPT agents were written for gravitasml, which merged them (the Domain Name Finder's
script prints four side by side, YouTube-to-Blog asks its model for three), and AutoGPT's
single-root refusal since its PR 11517 stops both at their parser. Top-level names that
repeat cannot be one dict, so they keep that refusal. In document order, a repeated
top-level name, text outside every element, a closing tag with nothing open and a tag left
open are refused before tag names are compared; the messages are AutoGPT's.

Bounded: at most 10 Mi characters of input and MAX_DEPTH nested elements (deeper markup
is refused, not a RecursionError), and inputs over PARSE_IN_THREAD characters are parsed in a worker
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

MAX_XML_CHARS = 10 * 1024 * 1024
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


@dataclass(slots=True, frozen=True)
class _Token:
    kind: str  # "open", "close" or "text"
    value: str


def _tokens(markup: str) -> list[_Token]:
    """The tags and (non-blank, trimmed) texts of ``markup``; comments are dropped."""
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(markup):
        kind, value = match.lastgroup, match.group()
        if kind == "open":
            tokens.append(_Token("open", _tag_name(value[1:-1])))
        elif kind == "close":
            tokens.append(_Token("close", _tag_name(value[2:-1])))
        elif kind == "text" and value.strip():
            tokens.append(_Token("text", value.strip()))
        elif kind == "stray":
            raise BlockRunError("Error in input xml syntax: stray '<'")
    return tokens


def _check_document(tokens: list[_Token]) -> None:
    """The checks before parsing, in document order: no top-level name twice, no text
    outside every element, no closing tag without an opening one, nothing left open."""
    if not tokens:
        raise BlockRunError("Validation error for dict:XML input is empty.")
    depth = 0
    top_level: set[str] = set()
    for token in tokens:
        if token.kind == "open":
            if depth == 0:
                # Distinct top-level elements merge into one dict; a repeated name would
                # need a list, which is not a dict, so that document is still refused.
                if token.value in top_level:
                    raise BlockRunError(
                        "Validation error for dict:XML must have a single root element."
                    )
                top_level.add(token.value)
            depth += 1
            if depth > MAX_DEPTH:
                raise BlockRunError(
                    f"Error in input xml syntax: elements nest more than {MAX_DEPTH} deep"
                )
        elif token.kind == "close":
            depth -= 1
            if depth < 0:
                raise BlockRunError(
                    "Error in input xml syntax: Unexpected closing tag in XML input."
                )
        elif depth == 0:
            raise BlockRunError(
                "Validation error for dict:XML contains text outside the root element; "
                "wrap content in a single root tag."
            )
    if depth != 0:
        raise BlockRunError("Error in input xml syntax: Unclosed tag detected in XML input.")
    if not top_level:
        raise BlockRunError("Validation error for dict:XML must include a root element.")


def parse_markup(markup: str) -> dict[str, Any]:
    """Parse ``markup`` (top-level elements with distinct names, merged) into a dict, or
    raise BlockRunError."""
    tokens = _tokens(markup)
    _check_document(tokens)
    root = _Element("")
    stack = [root]
    for token in tokens:
        if token.kind == "open":
            element = _Element(token.value)
            stack[-1].children.append(element)
            stack.append(element)
        elif token.kind == "close":
            if stack[-1].tag != token.value:
                raise BlockRunError(
                    f"Error in input xml syntax: Mismatched tags: {stack[-1].tag} and {token.value}"
                )
            stack.pop()
        else:
            stack[-1].text += token.value
    # The document check leaves at least one top-level element and no name twice, so
    # this is that element's dict or the merge of theirs, never a list.
    merged: dict[str, Any] = _children_value(root.children)
    return merged


class XMLParserBlock(Block["XMLParserBlock.Input"]):
    """Parse simple XML into a nested dictionary."""

    class Input(BlockSchema):
        input_xml: str = pin(
            description="XML text: one root element, or several with distinct names (merged)."
        )

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
        {"input_xml": "<a>1</a><b>2</b><a>3</a>"},
        {"input_xml": "<a>1</a> trailing"},
    ]
    test_output = [
        ("parsed_xml", {"tag1": {"tag2": "content"}}),
        ("parsed_xml", {"r": {"a": "1", "b": "2"}}),
        ("parsed_xml", {"r": [{"i": "x"}, {"i": "y"}]}),
        ("parsed_xml", {"domain_list": {"d": "a.com"}}),
        ("error", "Error in input xml syntax: Mismatched tags: a and b"),
        ("error", lambda msg: "syntax" in msg),
        ("parsed_xml", {"a": "1", "b": "2"}),
        ("error", "Validation error for dict:XML must have a single root element."),
        ("error", lambda msg: "text outside the root element" in msg),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        markup = input_data.input_xml
        if len(markup) > MAX_XML_CHARS:
            raise BlockRunError(f"XML too large: {len(markup)} bytes > {MAX_XML_CHARS} bytes")
        if len(markup) > PARSE_IN_THREAD:
            yield "parsed_xml", await asyncio.to_thread(parse_markup, markup)
        else:
            yield "parsed_xml", parse_markup(markup)
