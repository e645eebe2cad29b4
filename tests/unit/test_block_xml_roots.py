"""XMLParserBlock on several top-level elements: distinct names merge into one dict, as
gravitasml did for the shared AutoGPT agents written for it; a repeated top-level name and
text outside every element are refused with AutoGPT's messages; the problems it checks are
reported in document order, before tag names are compared."""

from __future__ import annotations

import pytest

from autoplat.blocks.builtin.xml_parser import parse_markup
from autoplat.errors import BlockRunError

SINGLE_ROOT = "Validation error for dict:XML must have a single root element."
TEXT_OUTSIDE = "Validation error for dict:XML contains text outside the root element"

#: What the Domain Name Finder's availability script prints (four top-level elements), and
#: what YouTube-to-Blog asks its model for (three): both were written for gravitasml's merge.
DOMAIN_SCRIPT_OUTPUT = (
    "<results_summary>\n I checked 2 domains for you.\n</results_summary>\n"
    "<available>\nbrewly.com\n</available>\n<unavailable>\ncuppa.com\n</unavailable>\n"
    "<error>\n</error>\n"
)
BLOG_REPLY = "<title>A title</title>\n<blog_post>The post</blog_post>\n<keywords>k</keywords>"


def test_the_domain_name_finders_report_parses_as_one_dict_of_its_four_elements() -> None:
    assert parse_markup(DOMAIN_SCRIPT_OUTPUT) == {
        "results_summary": "I checked 2 domains for you.",
        "available": "brewly.com",
        "unavailable": "cuppa.com",
        "error": "",
    }


def test_the_blog_reply_parses_as_one_dict_of_title_post_and_keywords() -> None:
    assert parse_markup(BLOG_REPLY) == {
        "title": "A title",
        "blog_post": "The post",
        "keywords": "k",
    }


@pytest.mark.parametrize(
    ("markup", "parsed"),
    [
        ("<a>1</a><b>2</b>", {"a": "1", "b": "2"}),
        ("<a>1</a><!-- between -->\n<b>2</b>", {"a": "1", "b": "2"}),
        ("<r><x>1</x></r><s></s>", {"r": {"x": "1"}, "s": ""}),
        ("<r><i>x</i><i>y</i></r>\n<n>1</n>", {"r": [{"i": "x"}, {"i": "y"}], "n": "1"}),
        ("<Domain List>d</Domain List><Other>o</Other>", {"domain_list": "d", "other": "o"}),
    ],
)
def test_top_level_elements_with_distinct_names_merge_like_an_elements_children(
    markup: str, parsed: dict[str, object]
) -> None:
    assert parse_markup(markup) == parsed
    # The same rule as for the children of one element: wrapping changes only the top key.
    assert parse_markup(f"<out>{markup}</out>") == {"out": parsed}


@pytest.mark.parametrize(
    "markup",
    [
        "<a>1</a><a>2</a>",  # the same name twice: a list, not a dict
        "<a>1</a><b>2</b><a>3</a>",
        "<Item>1</Item><item>2</item>",  # names are compared lower-cased
        f"{BLOG_REPLY}\n<title>Another</title>",
    ],
)
def test_a_repeated_top_level_name_is_refused_with_autogpts_single_root_message(
    markup: str,
) -> None:
    with pytest.raises(BlockRunError) as refused:
        parse_markup(markup)
    assert str(refused.value) == SINGLE_ROOT


@pytest.mark.parametrize(
    "markup",
    ["<a>1</a> trailing", "leading <a>1</a>", "<a>1</a> between <b>2</b>"],
)
def test_text_outside_every_element_is_refused_even_between_distinct_elements(
    markup: str,
) -> None:
    with pytest.raises(BlockRunError) as refused:
        parse_markup(markup)
    assert str(refused.value).startswith(TEXT_OUTSIDE)


def test_a_repeated_top_level_name_is_reported_before_a_tag_left_open() -> None:
    with pytest.raises(BlockRunError, match="single root element"):
        parse_markup("<a>1</a><a>")


def test_a_repeated_top_level_name_is_reported_before_mismatched_names() -> None:
    with pytest.raises(BlockRunError, match="single root element"):
        parse_markup("<a></b><a></a>")


def test_text_outside_is_reported_before_a_later_repeated_name() -> None:
    with pytest.raises(BlockRunError, match="text outside the root element"):
        parse_markup("<a>1</a> x <a>2</a>")


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<a>1</a><b>", "Error in input xml syntax: Unclosed tag detected in XML input."),
        ("<a></b><c></c>", "Error in input xml syntax: Mismatched tags: a and b"),
        ("<a>1</a></b>", "Error in input xml syntax: Unexpected closing tag in XML input."),
        ("</a>", "Error in input xml syntax: Unexpected closing tag in XML input."),
        ("<a><b>", "Error in input xml syntax: Unclosed tag detected in XML input."),
        ("<a></b>", "Error in input xml syntax: Mismatched tags: a and b"),
        ("  \n ", "Validation error for dict:XML input is empty."),
    ],
)
def test_other_malformed_documents_get_autogpts_messages_with_several_elements_too(
    markup: str, message: str
) -> None:
    with pytest.raises(BlockRunError) as refused:
        parse_markup(markup)
    assert str(refused.value) == message


def test_one_root_wrapping_repeated_names_still_lists_them() -> None:
    assert parse_markup("\n <r><i>x</i><i>y</i></r>\n") == {"r": [{"i": "x"}, {"i": "y"}]}
