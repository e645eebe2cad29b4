"""XMLParserBlock on several top-level elements does what AutoGPT's block does since it checks
its tokens (upstream PR 11517): it refuses them, with AutoGPT's message, whatever the names;
the problems it checks are reported in document order, before tag names are compared."""

from __future__ import annotations

import pytest

from autoplat.blocks.builtin.xml_parser import parse_markup
from autoplat.errors import BlockRunError

SINGLE_ROOT = "Validation error for dict:XML must have a single root element."

#: What the Domain Name Finder's availability script prints (four top-level elements), and
#: what YouTube-to-Blog asks its model for (three): both were written for gravitasml's merge.
DOMAIN_SCRIPT_OUTPUT = (
    "<results_summary>\n I checked 2 domains for you.\n</results_summary>\n"
    "<available>\nbrewly.com\n</available>\n<unavailable>\ncuppa.com\n</unavailable>\n"
    "<error>\n</error>\n"
)
BLOG_REPLY = "<title>A title</title>\n<blog_post>The post</blog_post>\n<keywords>k</keywords>"


@pytest.mark.parametrize(
    "markup",
    [
        DOMAIN_SCRIPT_OUTPUT,
        BLOG_REPLY,
        "<a>1</a><a>2</a>",  # the same name twice (gravitasml made a list of them)
        "<a>1</a><!-- between -->\n<b>2</b>",
        "<r><x>1</x></r><s></s>",
    ],
)
def test_several_top_level_elements_are_refused_with_autogpts_message(markup: str) -> None:
    with pytest.raises(BlockRunError) as refused:
        parse_markup(markup)
    assert str(refused.value) == SINGLE_ROOT


def test_a_second_root_is_reported_before_a_tag_left_open() -> None:
    with pytest.raises(BlockRunError, match="single root element"):
        parse_markup("<a>1</a><b>")


def test_a_second_root_is_reported_before_mismatched_names() -> None:
    with pytest.raises(BlockRunError, match="single root element"):
        parse_markup("<a></b><c></c>")


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<a>1</a> trailing", "Validation error for dict:XML contains text outside the root"),
        ("</a>", "Error in input xml syntax: Unexpected closing tag in XML input."),
        ("<a><b>", "Error in input xml syntax: Unclosed tag detected in XML input."),
        ("<a></b>", "Error in input xml syntax: Mismatched tags: a and b"),
        ("  \n ", "Validation error for dict:XML input is empty."),
    ],
)
def test_other_malformed_documents_get_autogpts_messages(markup: str, message: str) -> None:
    with pytest.raises(BlockRunError) as refused:
        parse_markup(markup)
    assert str(refused.value).startswith(message)


def test_one_root_wrapping_the_same_elements_is_parsed_and_merged() -> None:
    wrapped = f"<out>{BLOG_REPLY}</out>"
    assert parse_markup(wrapped) == {
        "out": {"title": "A title", "blog_post": "The post", "keywords": "k"}
    }
    assert parse_markup("\n <r><i>x</i><i>y</i></r>\n") == {"r": [{"i": "x"}, {"i": "y"}]}
