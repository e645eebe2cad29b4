"""Dynamic pin names (blocks.md §5): tokeniser, sanitiser, output selectors, input merging."""

from __future__ import annotations

from typing import Any

import pytest

from autoplat.errors import BlockInputError, PinIndexError, PinPathError
from autoplat.graphs.pins import (
    NO_VALUE,
    AttrBag,
    is_tool_pin,
    merge_execution_input,
    parse_execution_output,
    sanitize_pin_name,
    tokenize_path,
)


class Obj:
    """A plain object with attributes, as a block might yield before serialisation."""

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


# --- tokeniser -------------------------------------------------------------------------

TOKENS = [
    ("", []),
    ("_$_0", [("_$_", "0")]),
    ("_#_name", [("_#_", "name")]),
    ("_@_attr", [("_@_", "attr")]),
    ("_#_my_key", [("_#_", "my_key")]),
    ("_#_a_$_1_@_b", [("_#_", "a"), ("_$_", "1"), ("_@_", "b")]),
    ("_#_a_b_c_$_2", [("_#_", "a_b_c"), ("_$_", "2")]),
    ("_#_x_#_y", [("_#_", "x"), ("_#_", "y")]),
    # the earliest delimiter ends the identifier, whichever kind it is
    ("_#_a_@_b_$_c", [("_#_", "a"), ("_@_", "b"), ("_$_", "c")]),
    ("_$_-1", [("_$_", "-1")]),
    ("_#_key with spaces", [("_#_", "key with spaces")]),
    ("_#_#_x", [("_#_", "#_x")]),
    # malformed: no leading delimiter, empty identifiers
    ("x_#_a", None),
    ("_#_", None),
    ("_#__#_a", None),
    ("_#_a_$_", None),
    ("_^_a", None),
]


@pytest.mark.parametrize(("path", "expected"), TOKENS)
def test_tokenize_path(path: str, expected: list[tuple[str, str]] | None) -> None:
    assert tokenize_path(path) == expected


SANITIZED = [
    ("values", "values"),
    ("values_#_name", "values"),
    ("items_$_0", "items"),
    ("obj_@_attr", "obj"),
    ("prompt_values_#_BUSINESS_INFO", "prompt_values"),
    ("a_$_0_#_b", "a"),
    ("values_#_", "values"),  # malformed paths still sanitise to the base
    ("tools", "tools"),
    ("tools_^_web_search_~_question", "tools"),
    ("tools_^_node_~_field_#_x", "tools"),
    ("my_tools", "my_tools"),
    ("", ""),
]


@pytest.mark.parametrize(("name", "expected"), SANITIZED)
def test_sanitize_pin_name(name: str, expected: str) -> None:
    assert sanitize_pin_name(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("tools", True), ("tools_^_a_~_b", True), ("toolsx", False), ("my_tools_^_a", False)],
)
def test_is_tool_pin(name: str, expected: bool) -> None:
    assert is_tool_pin(name) is expected


# --- output side -----------------------------------------------------------------------

DATA = {"name": "Ada", "tags": ["x", "y", None], "nested": {"list": [{"k": 1}]}, "none": None}
OBJ = Obj(attr="A", inner=Obj(deep=[1, 2]), nothing=None)

OUTPUTS: list[tuple[str, tuple[str, Any], str, Any]] = [
    # (case, output_item, selector, expected)
    ("exact match", ("result", 5), "result", 5),
    ("exact match carries null", ("result", None), "result", None),
    ("exact match carries falsy", ("result", 0), "result", 0),
    ("other pin", ("result", 5), "error", NO_VALUE),
    ("selector is a prefix of the pin", ("results", 5), "result", NO_VALUE),
    ("suffix without delimiter", ("value", {"s": 1}), "values_#_s", NO_VALUE),
    ("dict key", ("out", DATA), "out_#_name", "Ada"),
    ("dict key with underscores", ("out", {"my_key": 3}), "out_#_my_key", 3),
    ("missing dict key", ("out", DATA), "out_#_nope", NO_VALUE),
    ("dict key on a list", ("out", [1]), "out_#_0", NO_VALUE),
    ("dict key whose value is null is skipped", ("out", DATA), "out_#_none", NO_VALUE),
    ("list index", ("out", ["a", "b"]), "out_$_1", "b"),
    ("list index zero", ("out", ["a", "b"]), "out_$_0", "a"),
    ("list index out of range", ("out", ["a"]), "out_$_1", NO_VALUE),
    ("list index not an integer", ("out", ["a"]), "out_$_x", NO_VALUE),
    ("list index on a tuple", ("out", ("a", "b")), "out_$_0", NO_VALUE),
    ("list index on a dict", ("out", {"0": "a"}), "out_$_0", NO_VALUE),
    ("list index on a string", ("out", "abc"), "out_$_0", NO_VALUE),
    ("negative list index", ("out", ["a", "b"]), "out_$_-1", "b"),
    ("null list element is skipped", ("out", DATA), "out_#_tags_$_2", NO_VALUE),
    ("nested path", ("out", DATA), "out_#_nested_#_list_$_0_#_k", 1),
    ("nested path broken midway", ("out", DATA), "out_#_nested_#_list_$_3_#_k", NO_VALUE),
    ("attribute", ("out", OBJ), "out_@_attr", "A"),
    ("nested attribute", ("out", OBJ), "out_@_inner_@_deep_$_1", 2),
    ("missing attribute", ("out", OBJ), "out_@_missing", NO_VALUE),
    ("null attribute is skipped", ("out", OBJ), "out_@_nothing", NO_VALUE),
    ("attribute of a dict fails", ("out", {"keys": 1}), "out_@_keys", NO_VALUE),
    ("attribute bag reads missing as null", ("out", AttrBag()), "out_@_anything", NO_VALUE),
    ("malformed: empty identifier", ("out", {"": 1}), "out_#_", NO_VALUE),
    ("malformed: doubled delimiter", ("out", {"a": 1}), "out_#__#_a", NO_VALUE),
    # tool routing wins even over an exact match: the sink must be the addressed node
    (
        "tool pin equal to selector still routes",
        ("tools_^_n1_~_q", "v"),
        "tools_^_n1_~_q",
        NO_VALUE,
    ),
]


@pytest.mark.parametrize(
    ("output_item", "selector", "expected"),
    [case[1:] for case in OUTPUTS],
    ids=[case[0] for case in OUTPUTS],
)
def test_parse_execution_output(output_item: tuple[str, Any], selector: str, expected: Any) -> None:
    assert parse_execution_output(output_item, selector, "sink", "pin") == expected


def test_too_negative_index_raises_index_error() -> None:
    with pytest.raises(IndexError):
        parse_execution_output(("out", ["a"]), "out_$_-2")
    with pytest.raises(PinIndexError):
        parse_execution_output(("out", ["a"]), "out_$_-2")


def test_no_value_is_a_distinct_marker() -> None:
    assert NO_VALUE is not None
    assert repr(NO_VALUE) == "NO_VALUE"
    assert parse_execution_output(("a", None), "a") is None
    assert parse_execution_output(("a", None), "b") is NO_VALUE


TOOL_ROUTES: list[tuple[str, tuple[str, Any], str, str, Any]] = [
    # (selector, yielded item, sink node, sink pin, expected)
    ("tools_^_web_search_~_question", ("tools_^_n1_~_question", "why"), "n1", "question", "why"),
    ("tools", ("tools_^_n1_~_question", "why"), "n1", "question", "why"),
    ("tools_^_web_search_~_question", ("tools_^_n1_~_question", "why"), "n2", "question", NO_VALUE),
    ("tools_^_web_search_~_question", ("tools_^_n1_~_question", "why"), "n1", "other", NO_VALUE),
    ("tools_^_x_~_f", ("tools_^_n1_~_a_~_b", 1), "n1", "a_~_b", 1),  # split once
    ("tools_^_x_~_f", ("tools_^_n1_~_f", None), "n1", "f", NO_VALUE),
    # a tool selector meeting an ordinary pin falls back to the normal rules
    ("tools_^_x_~_f", ("finished", "done"), "n1", "f", NO_VALUE),
    ("tools", ("tools", [1]), "n1", "f", [1]),
    # a yielded tool pin without _~_ is not routed
    ("tools_^_n1", ("tools_^_n1", 3), "n1", "f", 3),
]


@pytest.mark.parametrize(("selector", "item", "sink_node", "sink_pin", "expected"), TOOL_ROUTES)
def test_tool_routing(
    selector: str, item: tuple[str, Any], sink_node: str, sink_pin: str, expected: Any
) -> None:
    assert parse_execution_output(item, selector, sink_node, sink_pin) == expected


@pytest.mark.parametrize(("sink_node", "sink_pin"), [(None, "q"), ("n1", None), (None, None)])
def test_tool_routing_needs_sink(sink_node: str | None, sink_pin: str | None) -> None:
    with pytest.raises(ValueError, match="must be provided for tool pin routing"):
        parse_execution_output(("tools_^_n1_~_q", 1), "tools", sink_node, sink_pin)


# --- input side ------------------------------------------------------------------------

MERGES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("no dynamic keys", {"a": 1, "b": [2]}, {"a": 1, "b": [2]}),
    ("dict key", {"values_#_name": "Ada"}, {"values_#_name": "Ada", "values": {"name": "Ada"}}),
    (
        "two dict keys",
        {"values_#_a": 1, "values_#_b": 2},
        {"values_#_a": 1, "values_#_b": 2, "values": {"a": 1, "b": 2}},
    ),
    (
        "key with underscores",
        {"prompt_values_#_BUSINESS_INFO": "x"},
        {"prompt_values_#_BUSINESS_INFO": "x", "prompt_values": {"BUSINESS_INFO": "x"}},
    ),
    (
        "plain key before seeds the container",
        {"values": {"a": 1}, "values_#_b": 2},
        {"values": {"a": 1, "b": 2}, "values_#_b": 2},
    ),
    (
        "plain key after replaces the container",
        {"values_#_b": 2, "values": {"a": 1}},
        {"values": {"a": 1}, "values_#_b": 2},
    ),
    ("list index", {"items_$_0": "a"}, {"items_$_0": "a", "items": ["a"]}),
    ("list gap padded", {"items_$_2": "c"}, {"items_$_2": "c", "items": [None, None, "c"]}),
    (
        "list filled out of order",
        {"items_$_1": "b", "items_$_0": "a"},
        {"items_$_1": "b", "items_$_0": "a", "items": ["a", "b"]},
    ),
    (
        "list seeded",
        {"items": ["x", "y"], "items_$_1": "B"},
        {"items": ["x", "B"], "items_$_1": "B"},
    ),
    (
        "list from a string",
        {"items": "ab", "items_$_2": "c"},
        {"items": ["a", "b", "c"], "items_$_2": "c"},
    ),
    (
        "list from a tuple",
        {"items": ("a",), "items_$_1": "b"},
        {"items": ["a", "b"], "items_$_1": "b"},
    ),
    ("list over a number", {"items": 5, "items_$_0": "a"}, {"items": ["a"], "items_$_0": "a"}),
    (
        "nested dict in list",
        {"rows_$_1_#_name": "Bob"},
        {"rows_$_1_#_name": "Bob", "rows": [None, {"name": "Bob"}]},
    ),
    (
        "nested list in dict",
        {"cfg_#_ports_$_0": 80, "cfg_#_ports_$_1": 443, "cfg_#_host": "h"},
        {
            "cfg_#_ports_$_0": 80,
            "cfg_#_ports_$_1": 443,
            "cfg_#_host": "h",
            "cfg": {"ports": [80, 443], "host": "h"},
        },
    ),
    (
        "last writer wins: dict then list",
        {"v_#_a": 1, "v_$_0": 2},
        {"v_#_a": 1, "v_$_0": 2, "v": [2]},
    ),
    (
        "last writer wins: list then dict",
        {"v_$_0": 2, "v_#_a": 1},
        {"v_$_0": 2, "v_#_a": 1, "v": {"a": 1}},
    ),
    (
        "same key twice: later value",
        {"v_#_a": 1, "v_#_a ": 2},
        {"v_#_a": 1, "v_#_a ": 2, "v": {"a": 1, "a ": 2}},
    ),
    ("dict index keys stay strings", {"v_#_0": "x"}, {"v_#_0": "x", "v": {"0": "x"}}),
    ("malformed: empty key kept raw", {"values_#_": 1}, {"values_#_": 1}),
    ("malformed: doubled delimiter kept raw", {"values_#__#_a": 1}, {"values_#__#_a": 1}),
    (
        "malformed key does not disturb the base",
        {"values": {"a": 1}, "values_$_": 2},
        {"values": {"a": 1}, "values_$_": 2},
    ),
    (
        "nested path into a seeded list element",
        {"rows": [{"a": 1}], "rows_$_0_#_b": 2},
        {"rows": [{"a": 1, "b": 2}], "rows_$_0_#_b": 2},
    ),
    ("empty base name", {"_#_a": 1}, {"_#_a": 1, "": {"a": 1}}),
    ("null values are placed too", {"v_#_a": None}, {"v_#_a": None, "v": {"a": None}}),
    ("empty record", {}, {}),
]


@pytest.mark.parametrize(
    ("data", "expected"), [case[1:] for case in MERGES], ids=[case[0] for case in MERGES]
)
def test_merge_execution_input(data: dict[str, Any], expected: dict[str, Any]) -> None:
    assert merge_execution_input(data) == expected


def test_merge_does_not_mutate_its_input() -> None:
    seed = {"a": 1}
    items = ["x"]
    data: dict[str, Any] = {"values": seed, "values_#_b": 2, "items": items, "items_$_1": "y"}
    merge_execution_input(data)
    assert seed == {"a": 1}
    assert items == ["x"]
    assert data == {"values": {"a": 1}, "values_#_b": 2, "items": ["x"], "items_$_1": "y"}


def test_merge_keeps_flattened_keys_and_order() -> None:
    merged = merge_execution_input({"x_#_a": 1, "y": 2})
    assert list(merged) == ["x_#_a", "y", "x"]


def test_merge_attribute_builds_attr_bag() -> None:
    merged = merge_execution_input({"obj_@_name": "Ada", "obj_@_age": 3})
    bag = merged["obj"]
    assert isinstance(bag, AttrBag)
    assert (bag.name, bag.age, bag.missing) == ("Ada", 3, None)


def test_merge_attribute_over_existing_object() -> None:
    existing = Obj(kept=1)
    merged = merge_execution_input({"obj": existing, "obj_@_added": 2})
    assert merged["obj"].kept == 1
    assert merged["obj"].added == 2


def test_merge_attribute_then_dict_replaces() -> None:
    merged = merge_execution_input({"v_@_a": 1, "v_#_b": 2})
    assert merged["v"] == {"b": 2}


def test_merge_dict_key_over_attr_bag_starts_fresh() -> None:
    merged = merge_execution_input({"v_#_b": 2, "v_@_a": 1})
    assert isinstance(merged["v"], AttrBag)
    assert merged["v"].a == 1


def test_merge_dict_over_mapping_like_value() -> None:
    from types import MappingProxyType

    merged = merge_execution_input({"v": MappingProxyType({"a": 1}), "v_#_b": 2})
    assert merged["v"] == {"a": 1, "b": 2}


@pytest.mark.parametrize("key", ["items_$_x", "items_$_1.5", "items_$_0_$_a"])
def test_merge_non_integer_index_raises_value_error(key: str) -> None:
    with pytest.raises(ValueError, match="index must be an integer"):
        merge_execution_input({key: 1})
    with pytest.raises(PinPathError):
        merge_execution_input({key: 1})


@pytest.mark.parametrize("key", ["items_$_-1", "rows_#_a_$_-3"])
def test_merge_negative_index_raises_index_error(key: str) -> None:
    with pytest.raises(IndexError):
        merge_execution_input({key: 1})


def test_pin_errors_are_block_input_errors() -> None:
    with pytest.raises(BlockInputError) as info:
        merge_execution_input({"items_$_-1": 1})
    assert info.value.status == 422
    assert info.value.code == "pin_index_error"


def test_round_trip_output_selector_and_input_path() -> None:
    """A value placed by a sink path is found again by the same output selector."""
    merged = merge_execution_input({"data_#_rows_$_1_#_name": "Bob"})
    assert parse_execution_output(("data", merged["data"]), "data_#_rows_$_1_#_name") == "Bob"
