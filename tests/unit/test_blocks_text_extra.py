"""Text utilities and data sampling beyond their AutoGPT vectors."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.sampling import DataSamplingBlock, SamplingMethod, sample_indices
from autoplat.blocks.builtin.text_extra import (
    CodeExtractionBlock,
    TextDecoderBlock,
    TextEncoderBlock,
)
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings


class MemoryKv:
    """An in-memory KeyValueAccess."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def get(self, key: str) -> Any:
        return self.data.get(key)

    async def set(self, key: str, value: Any) -> Any:
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        return value


def _context(**kwargs: Any) -> BlockContext:
    return BlockContext(settings=BlockSettings(), http=None, **kwargs)  # type: ignore[arg-type]


async def _run(block: Block[Any], data: dict[str, Any], **kwargs: Any) -> list[tuple[str, Any]]:
    return await collect_outputs(block, data, _context(**kwargs))


async def test_decoder_keeps_non_latin_text_and_reports_bad_escapes() -> None:
    assert await _run(TextDecoderBlock(), {"text": "café \\u00e9\\t→"}) == [
        ("decoded_text", "café é\t→")
    ]
    out = await _run(TextDecoderBlock(), {"text": "bad \\x1"})
    assert out[0][0] == "error"
    assert out[0][1].startswith("Text contains an invalid escape sequence: ")


async def test_encoder_round_trips_with_decoder() -> None:
    text = 'a\nb\t"c" é'
    [(_, encoded)] = await _run(TextEncoderBlock(), {"text": text})
    assert await _run(TextDecoderBlock(), {"text": encoded}) == [("decoded_text", text)]


async def test_code_extraction_aliases_case_and_remaining_text() -> None:
    text = "```JS\na()\n```\n\n\n```js\nb()\n```\n```javascript \nc()\n```\n  \nend"
    assert await _run(CodeExtractionBlock(), {"text": text}) == [
        ("javascript", "c()\n\na()\n\nb()"),
        # Removal is case-sensitive on AutoGPT: the upper-case fence stays in the text.
        ("remaining_text", "```JS\na()\n```\nend"),
    ]
    assert await _run(CodeExtractionBlock(), {"text": "```json\n{}\n```"}) == [("json_code", "{}")]


async def test_code_extraction_is_linear_on_unclosed_fences() -> None:
    # No fence here ever closes ("\n```"): a backtracking engine rescans the rest of the
    # text from every opening, quadratic time; RE2 is linear.
    text = "```py\na " * 100_000
    began = time.perf_counter()
    out = await _run(CodeExtractionBlock(), {"text": text})
    assert time.perf_counter() - began < 5
    assert [pin for pin, _ in out] == ["remaining_text"]


@pytest.mark.parametrize("method", list(SamplingMethod))
def test_every_method_gives_the_global_generators_picks(method: SamplingMethod) -> None:
    data = [{"id": i, "group": i % 3, "w": i + 1} for i in range(20)]
    keys = {"stratify": "group", "weight": "w", "cluster": "group"}
    ours = sample_indices(random.Random(7), data, 5, method, keys)
    random.seed(7)  # what AutoGPT does: seed the module's generator, then draw from it
    theirs = sample_indices(random._inst, data, 5, method, keys)
    assert ours == theirs
    assert len(ours) == 5


async def test_sampling_errors_like_autogpt() -> None:
    out = await _run(DataSamplingBlock(), {"data": [{"a": 1}], "sample_size": 2})
    assert out == [("error", "Sample size (2) cannot be larger than the dataset size (1).")]
    out = await _run(
        DataSamplingBlock(), {"data": [{"a": 1}], "sample_size": 1, "sampling_method": "weighted"}
    )
    assert out == [("error", "Weight key must be provided for weighted sampling.")]


async def test_accumulate_gathers_across_runs_in_the_users_store() -> None:
    kv = MemoryKv()
    block = DataSamplingBlock()
    first = {
        "data": [{"i": 0}, {"i": 1}],
        "sample_size": 3,
        "accumulate": True,
        "sampling_method": "top",
    }
    assert await _run(block, first, kv=kv, node_id="n1") == []
    second = {**first, "data": {"i": 2}}
    assert await _run(block, second, kv=kv, node_id="n1") == [
        ("sampled_data", [{"i": 0}, {"i": 1}, {"i": 2}]),
        ("sample_indices", [0, 1, 2]),
    ]
    assert kv.data == {}  # cleared after sampling
    out = await _run(block, first)
    assert out[0][0] == "error" and "key-value store" in out[0][1]
