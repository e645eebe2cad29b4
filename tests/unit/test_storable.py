"""Values reach the database storable: NUL, lone surrogates and NaN are replaced, never fatal."""

from __future__ import annotations

import json
from typing import Any

from autoplat.db import storable


def test_plain_values_are_encoded_as_they_are() -> None:
    value = {"a": [1, 2.5, "é", None, True], "emoji": "\U0001f600"}
    assert json.loads(storable.dumps(value)) == value
    assert storable.clean(value) is value


def test_nul_lone_surrogates_and_nan_are_replaced() -> None:
    value = {"nul\x00key": "a\x00b", "lone": "x\ud800y", "nan": float("nan"), "inf": [float("inf")]}
    decoded = json.loads(storable.dumps(value))
    assert decoded == {"nul\ufffdkey": "a\ufffdb", "lone": "x\ufffdy", "nan": None, "inf": [None]}
    assert storable.clean(value) == decoded
    assert storable.text("bad\x00\udc00") == "bad\ufffd\ufffd"


def test_a_paired_surrogate_written_as_two_code_points_becomes_its_character() -> None:
    assert storable.sanitize("\ud83d\ude00") == "\U0001f600"


def test_values_that_cannot_be_encoded_at_all_become_a_description() -> None:
    circular: list[Any] = []
    circular.append(circular)
    assert json.loads(storable.dumps(circular)).startswith("<unstorable value")
    assert json.loads(storable.dumps({"big": 10**5000})) == {"big": "<integer of 16610 bits>"}
    assert json.loads(storable.dumps({"o": object()})) == {"o": "<object>"}


def test_sorted_dumps_give_one_text_per_value() -> None:
    assert storable.dumps_sorted({"b": 1, "a": 2}) == storable.dumps_sorted({"a": 2, "b": 1})
