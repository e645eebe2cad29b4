"""Table tests of the lenient conversion rules (blocks.md §4) and JSON-safe serialisation."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from typing import Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel

from autoplat.blocks.convert import coerce, convert, satisfies, to_json_safe


class Colour(enum.Enum):
    RED = "red"


class Point(BaseModel):
    x: int = 0


CONVERT_CASES: list[tuple[Any, Any, Any]] = [
    # str: JSON text of non-strings, stdlib spacing
    ("hi", str, "hi"),
    (5, str, "5"),
    (True, str, "true"),
    (None, str, "null"),
    ({"a": 1}, str, '{"a": 1}'),
    ([1, "x"], str, '[1, "x"]'),
    (1.5, str, "1.5"),
    # int / float
    (3, int, 3),
    ("3.7", int, 3),
    ("-2", int, -2),
    ("abc", int, 0),
    (None, int, 0),
    ([1, 2, 3], int, 3),
    ({"a": 1}, float, 1.0),
    (True, int, True),
    ("2.5", float, 2.5),
    (4, float, 4.0),
    ("nope", float, 0.0),
    (True, float, 1.0),
    ("inf", int, 0),
    # bool
    (False, bool, False),
    ("TRUE", bool, True),
    ("1", bool, True),
    ("yes", bool, False),
    ("", bool, False),
    (0, bool, False),
    ([0], bool, True),
    # list
    ([1], list, [1]),
    ((1, 2), list, [1, 2]),
    ({"a": 1, "b": 2}, list, [["a", 1], ["b", 2]]),
    ("[1, 2]", list, [1, 2]),
    (" [1, 2] ", list, [1, 2]),
    ("[not json", list, ["[not json"]),
    ("plain", list, ["plain"]),
    (7, list, [7]),
    (None, list, [None]),
    # dict
    ({"a": 1}, dict, {"a": 1}),
    ('{"a": 1}', dict, {"a": 1}),
    ("[1]", dict, {"value": [1]}),
    ("42", dict, {"value": 42}),
    ("not json", dict, {"value": "not json"}),
    (["a", "b"], dict, {0: "a", 1: "b"}),
    (3, dict, {"value": 3}),
    # tuple / set
    ([1, 2], tuple, (1, 2)),
    ([1, 1, 2], set, {1, 2}),
    # generics: container first, then the items
    (["1", 2], list[int], [1, 2]),
    ("[1, 2]", list[str], ["1", "2"]),
    ({"a": 1, "b": "x"}, dict[str, str], {"a": "1", "b": "x"}),
    ('{"a": "5"}', dict[str, int], {"a": 5}),
    ([["a", 1]], list[list[str]], [["a", "1"]]),
    # unions / Optional
    (None, Optional[int], None),  # noqa: UP045 (typing.Optional is its own origin)
    ("5", Optional[int], 5),  # noqa: UP045
    ("5", int | None, 5),
    ("x", Union[int, str], "x"),  # noqa: UP007
    ([1], Union[int, str], 1),  # noqa: UP007
    # unchanged: Any, enums, models, literals, unknown classes
    ({"x": 1}, Any, {"x": 1}),
    ("red", Colour, "red"),
    ({"x": 1}, Point, {"x": 1}),
    ("b", Literal["a", "b"], "b"),
    ("2026-01-02", dt.date, "2026-01-02"),
]


@pytest.mark.parametrize(("value", "target", "expected"), CONVERT_CASES)
def test_convert(value: Any, target: Any, expected: Any) -> None:
    result = convert(value, target)
    assert result == expected
    assert type(result) is type(expected)


SATISFIES_CASES: list[tuple[Any, Any, bool]] = [
    (1, int, True),
    (True, int, True),
    (1.0, int, False),
    (1, float, True),
    (True, float, False),
    ("1", int, False),
    ("s", str, True),
    (None, str, False),
    (None, Optional[str], True),  # noqa: UP045
    (None, Any, True),
    ([1, 2], list[int], True),
    ([1, "2"], list[int], False),
    ({"a": 1}, dict[str, int], True),
    ({"a": "1"}, dict[str, int], False),
    ({1: 1}, dict[str, int], False),
    ([["a"]], list[list[str]], True),
    ("x", int | str, True),
    ([], int | str, False),
    ("red", Colour, True),
    ("blue", Colour, False),
    ({"x": 1}, Point, True),
    ("a", Literal["a"], True),
    ("z", Literal["a"], False),
    ((1, "a"), tuple[int, str], True),
    ((1, 2), tuple[int, ...], True),
]


@pytest.mark.parametrize(("value", "annotation", "expected"), SATISFIES_CASES)
def test_satisfies(value: Any, annotation: Any, expected: bool) -> None:
    assert satisfies(value, annotation) is expected


def test_coerce_leaves_satisfying_values_alone() -> None:
    assert coerce(True, int) is True
    assert coerce([1, 2.5], list[float]) == [1, 2.5]
    assert coerce(["1", 2], list[int]) == [1, 2]
    assert coerce("5", float) == 5.0


class Bag:
    def __init__(self) -> None:
        self.a = 1
        self.when = dt.date(2026, 5, 9)
        self._hidden = "x"


JSON_SAFE_CASES: list[tuple[Any, Any]] = [
    (None, None),
    ("s", "s"),
    (1, 1),
    (1.5, 1.5),
    (math.nan, None),
    (math.inf, None),
    (-math.inf, None),
    (dt.date(2026, 5, 9), "2026-05-09"),
    (dt.time(8, 30), "08:30:00"),
    (dt.datetime(2026, 5, 9, 10, 11, 12, tzinfo=dt.UTC), "2026-05-09T10:11:12+00:00"),
    ((1, (2, 3)), [1, [2, 3]]),
    ({1.5: "a", None: "b", False: "c"}, {"1.5": "a", "null": "b", "false": "c"}),
    ({0: "a", "k": [math.nan]}, {"0": "a", "k": [None]}),
    (Colour.RED, "red"),
    (Point(x=3), {"x": 3}),
    (Bag(), {"a": 1, "when": "2026-05-09"}),
    (b"bytes", "bytes"),
    (complex(1, 2), "(1+2j)"),
]


@pytest.mark.parametrize(("value", "expected"), JSON_SAFE_CASES)
def test_to_json_safe(value: Any, expected: Any) -> None:
    result = to_json_safe(value)
    assert result == expected
    json.dumps(result, allow_nan=False)
