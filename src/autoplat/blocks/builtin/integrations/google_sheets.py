"""Google Sheets: AutoGPT's ``GoogleSheetsReadBlock`` and ``GoogleSheetsWriteBlock``
(``blocks/google/sheets.py``), over the Sheets REST API v4 (no Google client library).

Invariant: reading is ``GET /v4/spreadsheets/{id}/values/{range}`` and outputs its
``values`` (an empty range is ``[]``); writing is ``PUT`` of the same resource with
``valueInputOption=USER_ENTERED`` (values parsed as if typed into the sheet, as AutoGPT
asks) and outputs Google's update summary as it answered it. The spreadsheet id and the
A1 range are path segments, quoted, so neither can reach another resource.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations import _google as google
from autoplat.blocks.builtin.integrations._base import (
    CredentialsRefInput,
    ProviderError,
    path_segment,
)
from autoplat.blocks.builtin.integrations._tokens import oauth_stand_in
from autoplat.blocks.schema import pin

SERVICE = "google_sheets"
READ_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"
WRITE_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
_TEST_SHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def values_path(spreadsheet_id: str, cell_range: str) -> str:
    """``/v4/spreadsheets/{id}/values/{range}``, each part quoted as one segment (``.`` and
    ``..`` refused: the URL would resolve them to another resource of the API)."""
    sheet, cells = spreadsheet_id.strip(), cell_range.strip()
    if not sheet or not cells:
        raise ProviderError("a spreadsheet id and a range are required")
    sheet = path_segment(sheet, "the spreadsheet id")
    path_segment(cells, "the range")  # refuses the dot names
    # ``!`` and ``:`` stay readable (``Sheet1!A1:B2``), as Google's own examples write them.
    cells = urllib.parse.quote(cells, safe="!:")
    return f"/v4/spreadsheets/{sheet}/values/{cells}"


def _vector_answer(request: httpx.Request) -> httpx.Response:
    if request.method == "PUT":
        if request.url.params.get("valueInputOption") != "USER_ENTERED":
            return google.json_answer({"error": {"code": 400, "message": "bad option"}}, 400)
        return google.json_answer({"updatedCells": 4, "updatedColumns": 2, "updatedRows": 2})
    values = [["Name", "Score"], ["Alice", "85"]]
    return google.json_answer({"range": "Sheet1!A1:B2", "majorDimension": "ROWS", "values": values})


_TEST_CONTEXT = oauth_stand_in(_vector_answer, google.PROVIDER, google.MOCK_TOKEN)


class GoogleSheetsReadBlock(Block["GoogleSheetsReadBlock.Input"]):
    """The cell values of a range of a spreadsheet, row by row."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = google.google_credentials_pin(READ_SCOPE)
        spreadsheet_id: str = pin(description="The ID of the spreadsheet to read from")
        range: str = pin(description="The A1 notation of the range to read")

    class Output(BlockOutputSchema):
        result: list[list[str]] = pin(description="The data read from the spreadsheet")
        error: str = pin("", description="Error message if any")

    id = "5724e902-3635-47e9-a108-aaa0263a4988"
    description = "This block reads data from a Google Sheets spreadsheet."
    categories = (BlockCategory.DATA,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"spreadsheet_id": _TEST_SHEET, "range": "Sheet1!A1:B2", "credentials": google.MOCK_INPUT}
    ]
    test_output = [("result", [["Name", "Score"], ["Alice", "85"]])]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        path = values_path(input_data.spreadsheet_id, input_data.range)
        data = await google.request(context, SERVICE, "GET", path)
        rows = data.get("values", []) if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ProviderError("Google Sheets answered values that are not a list of rows")
        # Google sends cells as formatted strings; anything else is shown as text.
        yield "result", [[str(c) for c in row] for row in rows if isinstance(row, list)]


class GoogleSheetsWriteBlock(Block["GoogleSheetsWriteBlock.Input"]):
    """Write rows of values into a range of a spreadsheet."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = google.google_credentials_pin(WRITE_SCOPE)
        spreadsheet_id: str = pin(description="The ID of the spreadsheet to write to")
        range: str = pin(description="The A1 notation of the range to write")
        values: list[list[str]] = pin(description="The data to write to the spreadsheet")

    class Output(BlockOutputSchema):
        result: dict[str, Any] = pin(description="The result of the write operation")
        error: str = pin("", description="Error message if any")

    id = "d9291e87-301d-47a8-91fe-907fb55460e5"
    description = "This block writes data to a Google Sheets spreadsheet."
    categories = (BlockCategory.DATA,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "spreadsheet_id": _TEST_SHEET,
            "range": "Sheet1!A1:B2",
            "values": [["Name", "Score"], ["Bob", "90"]],
            "credentials": google.MOCK_INPUT,
        }
    ]
    test_output = [("result", {"updatedCells": 4, "updatedColumns": 2, "updatedRows": 2})]
    test_context = _TEST_CONTEXT

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        path = values_path(input_data.spreadsheet_id, input_data.range)
        body = {"range": input_data.range, "majorDimension": "ROWS", "values": input_data.values}
        params = {"valueInputOption": "USER_ENTERED"}
        data = await google.request(context, SERVICE, "PUT", path, params=params, json=body)
        if not isinstance(data, dict):
            raise ProviderError("Google Sheets answered an update that is not an object")
        yield "result", data
