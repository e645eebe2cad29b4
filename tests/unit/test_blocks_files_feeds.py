"""File reading, spreadsheets and feed parsing beyond their vectors: AutoGPT's edge cases and
the bounds (outputs per run, entity declarations, nesting)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.feeds import MAX_DEPTH, FeedError, entry_date, parse_feed
from autoplat.blocks.builtin.file_blocks import FileReadBlock, ReadSpreadsheetBlock
from autoplat.blocks.excel import workbook_rows
from autoplat.blocks.selftest import collect_outputs
from autoplat.blocks.settings import BlockSettings


def _uri(text: str) -> str:
    return "data:text/plain;base64," + base64.b64encode(text.encode()).decode()


async def _run(block: Block[Any], data: dict[str, Any], **settings: Any) -> list[tuple[str, Any]]:
    context = BlockContext(settings=BlockSettings(**settings), http=None)  # type: ignore[arg-type]
    return await collect_outputs(block, data, context)


async def test_file_read_splits_skips_and_chunks_like_autogpt() -> None:
    text = "h\na\nb\nc\nd"
    out = await _run(
        FileReadBlock(),
        {"file_input": _uri(text), "delimiter": "\n", "skip_rows": 1, "row_limit": 2},
    )
    assert out == [("content", "a\nb")]
    out = await _run(FileReadBlock(), {"file_input": _uri("abcdefg"), "size_limit": 3})
    assert out == [("content", "abc"), ("content", "def"), ("content", "g")]
    assert await _run(FileReadBlock(), {"file_input": _uri("")}) == []
    out = await _run(
        FileReadBlock(), {"file_input": _uri("a\nb"), "delimiter": "\n", "skip_rows": 5}
    )
    assert out == [("content", "")]
    latin = "data:text/plain;base64," + base64.b64encode("café".encode("latin-1")).decode()
    assert await _run(FileReadBlock(), {"file_input": latin}) == [("content", "café")]


async def test_file_read_refuses_to_flood_the_graph() -> None:
    out = await _run(
        FileReadBlock(), {"file_input": _uri("x" * 50), "size_limit": 1}, step_through_max_items=10
    )
    assert out[0][0] == "error" and "at most 10" in out[0][1]


async def test_spreadsheet_options() -> None:
    csv_text = "a;b;c\nskip;me;x\n 1 ; 2 ;3\n"
    out = await _run(
        ReadSpreadsheetBlock(),
        {"contents": csv_text, "delimiter": ";", "skip_rows": 1, "skip_columns": ["b"]},
    )
    assert out == [("rows", [{"a": "1", "c": "3"}])]
    out = await _run(
        ReadSpreadsheetBlock(),
        {"contents": "x,y\n", "has_header": False, "strip": False, "skip_columns": ["0"]},
    )
    assert out == [("rows", [{"1": "y"}])]
    out = await _run(ReadSpreadsheetBlock(), {})
    assert out == [("error", "Either 'contents' or 'file_input' must be provided")]
    big = "n\n" + "1\n" * 200_000  # parsed in a worker thread
    [(pin, rows)] = await _run(ReadSpreadsheetBlock(), {"contents": big})
    assert pin == "rows" and len(rows) == 200_000


def test_workbooks_render_like_pandas() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["a", None, "a", None])
    sheet.append([1, True, 2.5, None])
    sheet.append([None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    rows = workbook_rows(buffer.getvalue(), 0)
    assert rows == [["a", "Unnamed: 1", "a.1"], ["1", "True", "2.5"]]
    with pytest.raises(ValueError, match="index 3"):
        workbook_rows(buffer.getvalue(), 3)


def test_feeds_refuse_entities_and_deep_nesting() -> None:
    bomb = b'<!DOCTYPE r [<!ENTITY a "x">]><rss><item><title>&a;</title></item></rss>'
    with pytest.raises(FeedError, match="entities"):
        parse_feed(bomb)
    deep = b"<rss>" + b"<x>" * (MAX_DEPTH + 1) + b"</x>" * (MAX_DEPTH + 1) + b"</rss>"
    with pytest.raises(FeedError, match="deeper"):
        parse_feed(deep)
    with pytest.raises(FeedError, match="well-formed"):
        parse_feed(b"<rss><item>")


def test_feed_dates_become_utc_seconds() -> None:
    expected = datetime(2023, 6, 23, 12, 30, tzinfo=UTC)
    assert entry_date({"pubDate": "Fri, 23 Jun 2023 14:30:00 +0200"}) == expected
    assert entry_date({"updated": "2023-06-23T12:30:00.5Z"}) == expected
    assert entry_date({"title": "no date"}) is None
