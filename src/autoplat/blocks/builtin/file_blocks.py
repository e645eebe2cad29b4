"""Blocks that read files: FileReadBlock (text, chunked) and ReadSpreadsheetBlock (CSV, Excel).

Invariants: a file pin takes a file reference (the run's user's own files only), a
``data:`` URI or an http(s) URL (``autoplat.files.media``), never a server path; what is
read is bounded by ``file_max_bytes``. Excel workbooks are unpacked only in a sandboxed
child (``autoplat.blocks.excel``); large CSV text is parsed in a worker thread so the
event loop keeps serving. A block never yields more than ``step_through_max_items`` values
on one pin (a file cut into millions of one-character chunks is refused, not emitted).
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.excel import read_workbook
from autoplat.blocks.sandbox import ComputationTimeout, ComputationTooLarge
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError
from autoplat.files.media import read_file

#: Text longer than this is split or parsed in a worker thread.
THREAD_ABOVE = 256 * 1024
_EXCEL_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
)


def _too_many(count: int, limit: int) -> BlockRunError:
    return BlockRunError(f"the file makes {count} outputs; at most {limit} are emitted per run")


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("latin-1")  # AutoGPT's fallback: every byte is a character


def _chunks(
    content: str, delimiter: str, skip_size: int, skip_rows: int, row_limit: int, size: int
) -> list[str]:
    """AutoGPT's FileReadBlock cut: skip characters, split, skip and limit rows, re-join,
    then cut into ``size``-character chunks (0: one chunk; an empty text gives none)."""
    if skip_size > 0:
        content = content[skip_size:]
    items = content.split(delimiter) if delimiter else [content]
    if skip_rows > 0:
        items = items[skip_rows:]
    if row_limit > 0:
        items = items[:row_limit]
    if not items:
        return [""]
    text = delimiter.join(items)
    if size <= 0:
        return [text] if text else []
    return [text[i : i + size] for i in range(0, len(text), size)]


class FileReadBlock(Block["FileReadBlock.Input"]):
    """Read a text file; optionally split it by a delimiter and cut it into chunks."""

    class Input(BlockSchema):
        file_input: str = pin(description="The file to read from (file reference, URL or data URI)")
        delimiter: str = pin(
            "",
            advanced=True,
            description="Delimiter to split the content into rows/chunks (e.g., '\\n' for lines)",
        )
        size_limit: int = pin(
            0,
            advanced=True,
            description="Maximum size in bytes per chunk to yield (0 for no limit)",
        )
        row_limit: int = pin(
            0,
            advanced=True,
            description="Maximum number of rows to process (0 for no limit, requires delimiter)",
        )
        skip_size: int = pin(
            0, advanced=True, description="Number of characters to skip from the beginning"
        )
        skip_rows: int = pin(
            0,
            advanced=True,
            description="Number of rows to skip from the beginning (requires delimiter)",
        )

    class Output(BlockOutputSchema):
        content: str = pin(description="File content, in chunks when limits apply")

    id = "3735a31f-7e18-4aca-9e90-08a7120674bc"
    description = (
        "Reads a file and returns its content as a string, with optional chunking by "
        "delimiter and size limits"
    )
    categories = (BlockCategory.TEXT, BlockCategory.DATA)
    input_schema = Input
    output_schema = Output
    test_input = [{"file_input": "data:text/plain;base64,SGVsbG8gV29ybGQ="}]
    test_output = [("content", "Hello World")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        file = await read_file(input_data.file_input, context)
        arguments = (
            input_data.delimiter,
            input_data.skip_size,
            input_data.skip_rows,
            input_data.row_limit,
            input_data.size_limit,
        )
        if len(file.content) > THREAD_ABOVE:
            text = await asyncio.to_thread(_decode, file.content)
            chunks = await asyncio.to_thread(_chunks, text, *arguments)
        else:
            chunks = _chunks(_decode(file.content), *arguments)
        limit = context.settings.step_through_max_items
        if len(chunks) > limit:
            raise _too_many(len(chunks), limit)
        for chunk in chunks:
            yield "content", chunk


def _parse_csv(text: str, options: ReadSpreadsheetBlock.Input) -> list[dict[str, str]]:
    try:
        reader = csv.reader(
            io.StringIO(text),
            delimiter=options.delimiter,
            quotechar=options.quotechar,
            escapechar=options.escapechar or None,
        )
        return _rows(reader, options)
    except (csv.Error, TypeError) as exc:
        raise BlockRunError(f"Unable to parse the CSV data: {exc}") from None


def _rows(rows: Any, options: ReadSpreadsheetBlock.Input) -> list[dict[str, str]]:
    """AutoGPT's row mapping: header names (or column indices) to values, skips applied."""
    rows = iter(rows)
    header: list[str] | None = None
    if options.has_header:
        first = next(rows, None)
        if first is None:
            raise BlockRunError("the spreadsheet is empty: it has no header row")
        header = [h.strip() for h in first] if options.strip else list(first)
    for _ in range(options.skip_rows):
        if next(rows, None) is None:
            break
    skip = set(options.skip_columns)
    out = []
    for row in rows:
        data: dict[str, str] = {}
        for index, value in enumerate(row):
            if header:
                if index >= len(header):
                    continue
                name = header[index]
            else:
                name = str(index)
            if name in skip:
                continue
            data[name] = value.strip() if options.strip else value
        out.append(data)
    return out


class ReadSpreadsheetBlock(Block["ReadSpreadsheetBlock.Input"]):
    """Read CSV text or a CSV/Excel file into rows (dicts keyed by the header)."""

    class Input(BlockSchema):
        contents: str | None = pin(
            None, advanced=False, description="The contents of the CSV/spreadsheet data to read"
        )
        file_input: str | None = pin(
            None,
            advanced=False,
            description="CSV or Excel file to read from (file reference, URL or data URI). "
            "Excel files are automatically converted to CSV",
        )
        delimiter: str = pin(",", description="The delimiter used in the CSV/spreadsheet data")
        quotechar: str = pin('"', description="The character used to quote fields")
        escapechar: str = pin("\\", description="The character used to escape the delimiter")
        has_header: bool = pin(True, description="Whether the CSV file has a header row")
        skip_rows: int = pin(0, description="The number of rows to skip from the start")
        strip: bool = pin(True, description="Whether to strip whitespace from the values")
        skip_columns: list[str] = pin(
            default_factory=list,
            description="Column names (when has_header is True) or 0-based column indices as "
            "strings (when has_header is False) to omit from each row",
        )
        sheet_name: str | int = pin(
            0,
            advanced=True,
            description="Excel sheet to read: sheet name or 0-based index (default: the "
            "first). Ignored for CSV inputs.",
        )
        produce_singular_result: bool = pin(
            False,
            description="If True, yield individual 'row' outputs only (can be slow). "
            "If False, yield both 'rows' (all data)",
        )

    class Output(BlockOutputSchema):
        row: dict[str, str] = pin(description="The data produced from each row")
        rows: list[dict[str, str]] = pin(description="All the data as a list of rows")

    id = "acf7625e-d2cb-4941-bfeb-2819fc6fc015"
    description = (
        "Reads CSV and Excel files and outputs the data as a list of dictionaries and "
        "individual rows. Excel files are automatically converted to CSV format. Use "
        "sheet_name to select a non-first Excel sheet (default: first sheet)."
    )
    categories = (BlockCategory.TEXT, BlockCategory.DATA)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"contents": "a, b, c\n1,2,3\n4,5,6", "produce_singular_result": False},
        {"contents": "a, b, c\n1,2,3\n4,5,6", "produce_singular_result": True},
    ]
    test_output = [
        ("rows", [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "6"}]),
        ("row", {"a": "1", "b": "2", "c": "3"}),
        ("row", {"a": "4", "b": "5", "c": "6"}),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if input_data.file_input:
            file = await read_file(input_data.file_input, context)
            if _is_excel(file.name, file.content_type):
                rows = await self._excel(file.content, input_data)
            else:
                try:
                    text = file.content.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise BlockRunError(f"Unable to read the file as UTF-8 text: {exc}") from None
                rows = await self._csv(text, input_data)
        elif input_data.contents:
            rows = await self._csv(input_data.contents, input_data)
        else:
            raise BlockRunError("Either 'contents' or 'file_input' must be provided")
        if input_data.produce_singular_result:
            limit = context.settings.step_through_max_items
            if len(rows) > limit:
                raise _too_many(len(rows), limit)
            for row in rows:
                yield "row", row
        else:
            yield "rows", rows

    @staticmethod
    async def _csv(text: str, options: Input) -> list[dict[str, str]]:
        if len(text) > THREAD_ABOVE:
            return await asyncio.to_thread(_parse_csv, text, options)
        return _parse_csv(text, options)

    @staticmethod
    async def _excel(content: bytes, options: Input) -> list[dict[str, str]]:
        if not content.startswith(b"PK"):
            raise BlockRunError(
                "Unable to read Excel file: only .xlsx workbooks are supported "
                "(save .xls files as .xlsx)"
            )
        try:
            table = await read_workbook(content, options.sheet_name)
        except (ComputationTimeout, ComputationTooLarge):
            raise
        except ValueError as exc:
            raise BlockRunError(f"Unable to read Excel file: {exc}") from None
        return _rows(table, options)


def _is_excel(name: str, content_type: str) -> bool:
    lowered = name.lower()
    return lowered.endswith((".xlsx", ".xls")) or content_type in _EXCEL_TYPES
