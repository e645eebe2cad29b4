"""Excel workbooks to rows of text, the way AutoGPT's pandas conversion renders them.

Invariant: a workbook is only ever opened in a sandbox child (``sandbox`` job
``spreadsheet``), under its memory and time limits: an .xlsx is a ZIP archive whose XML can
expand far beyond its size, so it must not be unpacked in the server process.

Rendering follows ``pandas.read_excel(dtype=object, keep_default_na=False)`` followed by
``to_csv``: the first row is the header (empty names become ``Unnamed: <i>``, repeated ones
``name.1``, ``name.2``...), empty cells become ``""``, other values their ``str()``
(``1``, ``1.5``, ``True``, ``2024-01-01 00:00:00``); trailing empty rows are dropped.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from autoplat.blocks import sandbox

#: Seconds a workbook may take to open and read.
TIMEOUT = 60.0
MEMORY = 512 * 1024 * 1024


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _header(cells: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for index, name in enumerate(cells):
        name = name or f"Unnamed: {index}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def workbook_rows(content: bytes, sheet: str | int) -> list[list[str]]:
    """The chosen sheet's rows as text, header first (raises ValueError saying why not)."""
    import openpyxl  # type: ignore[import-untyped]  # (no stubs shipped)

    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        if isinstance(sheet, int):
            if not 0 <= sheet < len(book.worksheets):
                raise ValueError(f"Worksheet index {sheet} is invalid")
            worksheet = book.worksheets[sheet]
        else:
            if sheet not in book.sheetnames:
                raise ValueError(f"Worksheet named '{sheet}' not found")
            worksheet = book[sheet]
        rows = [[_text(cell) for cell in row] for row in worksheet.iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        return []
    width = max(len(row) for row in rows)
    while width and not any(len(row) >= width and row[width - 1] for row in rows):
        width -= 1
    rows = [(row + [""] * width)[:width] for row in rows]
    return [_header(rows[0]), *rows[1:]]


def child_job(request: dict[str, Any]) -> dict[str, Any]:
    """Sandbox entry: ``{"content": base64, "sheet": name or index}`` → ``{"rows"}``."""
    try:
        rows = workbook_rows(base64.b64decode(request["content"]), request["sheet"])
    except MemoryError:
        raise
    except Exception as exc:  # any reason the workbook cannot be read is the user's answer
        return {"error": str(exc) or type(exc).__name__}
    return {"rows": rows}


async def read_workbook(content: bytes, sheet: str | int) -> list[list[str]]:
    """The rows of ``sheet`` of an .xlsx workbook, read in a sandboxed child."""
    request = {"content": base64.b64encode(content).decode("ascii"), "sheet": sheet}
    answer = await sandbox.run_job(
        "spreadsheet", request, what="reading the Excel file", timeout=TIMEOUT, memory=MEMORY
    )
    if "error" in answer:
        raise ValueError(str(answer["error"]))
    rows: list[list[str]] = answer["rows"]
    return rows
