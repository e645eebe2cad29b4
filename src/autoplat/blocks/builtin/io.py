"""Graph input and output blocks (blocks.md §3.2).

Input blocks receive a run's input by ``name`` on their ``value`` pin and emit it as
``result``; output blocks collect a run's results. Both use plain schemas: no ``error`` pin.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockSchema,
    BlockType,
)
from autoplat.blocks.schema import pin
from autoplat.blocks.templating import TemplateRenderError, render_template
from autoplat.files.media import store_file
from autoplat.files.standin import with_stores

_INPUT_CATEGORIES = (BlockCategory.BASIC, BlockCategory.INPUT)


class AgentInputBlock(Block["AgentInputBlock.Input"]):
    """A graph input: emits the run's value for ``name`` (or the default) when there is one."""

    class Input(BlockSchema):
        name: str = pin(description="Key under which the graph input is supplied.")
        value: Any = pin(None, description="Default value, replaced by the run's input.")
        title: str | None = pin(None, description="Title shown for the input.")
        description: str | None = pin(None, description="Description of the input.")
        advanced: bool = pin(False, description="Show only in advanced settings.")
        secret: bool = pin(False, description="The value is secret (stripped from exports).")

    class Output(BlockSchema):
        result: Any = pin(description="The input value.")

    id = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
    description = "An input of the agent, supplied when the agent is run."
    categories = _INPUT_CATEGORIES
    block_type = BlockType.INPUT
    input_schema: ClassVar[type[BlockSchema]] = Input
    output_schema: ClassVar[type[BlockSchema]] = Output
    static_output = True
    # Inputs that emit even without a value (toggle, table) override this.
    emits_when_empty: ClassVar[bool] = False
    test_input = [
        {"name": "topic", "value": "bees"},
        {"name": "empty"},
        {"name": "count", "value": 0},
    ]
    test_output = [("result", "bees"), ("result", 0)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        value = getattr(input_data, "value", None)
        if value is not None:
            yield "result", value
        elif self.emits_when_empty:
            yield "result", self.empty_value()

    def empty_value(self) -> Any:
        """Value emitted when the input has none and ``emits_when_empty`` is set."""
        return None


class _TypedInput(BlockSchema):
    """Pins shared by the typed input blocks (``value`` is declared per block)."""

    name: str = pin(description="Key under which the graph input is supplied.")
    title: str | None = pin(None, description="Title shown for the input.")
    description: str | None = pin(None, description="Description of the input.")
    advanced: bool = pin(False, description="Show only in advanced settings.")
    secret: bool = pin(False, description="The value is secret (stripped from exports).")


class AgentShortTextInputBlock(AgentInputBlock):
    """A single-line text input."""

    class Input(_TypedInput):
        value: str | None = pin(None, advanced=False, title="Default Value", format="short-text")

    class Output(BlockSchema):
        result: str = pin(description="The text.")

    id = "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158"
    description = "A short text input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "city", "value": "Lyon"}, {"name": "city"}]
    test_output = [("result", "Lyon")]


class AgentLongTextInputBlock(AgentInputBlock):
    """A multi-line text input."""

    class Input(_TypedInput):
        value: str | None = pin(None, advanced=False, title="Default Value", format="long-text")

    class Output(BlockSchema):
        result: str = pin(description="The text.")

    id = "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba"
    description = "A long text input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "essay", "value": "line one\nline two"}]
    test_output = [("result", "line one\nline two")]


class AgentNumberInputBlock(AgentInputBlock):
    """An integer input."""

    class Input(_TypedInput):
        value: int | None = pin(None, advanced=False, title="Default Value")

    class Output(BlockSchema):
        result: int = pin(description="The number.")

    id = "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98"
    description = "A number input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "n", "value": 42}, {"name": "n", "value": "7"}]
    test_output = [("result", 42), ("result", 7)]


class AgentDateInputBlock(AgentInputBlock):
    """A calendar date input (ISO ``YYYY-MM-DD``)."""

    class Input(_TypedInput):
        value: dt.date | None = pin(None, advanced=False, title="Default Value")

    class Output(BlockSchema):
        result: dt.date = pin(description="The date.")

    id = "7e198b09-4994-47db-8b4d-952d98241817"
    description = "A date input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "day", "value": "2026-05-09"}]
    test_output = [("result", dt.date(2026, 5, 9))]


class AgentTimeInputBlock(AgentInputBlock):
    """A time-of-day input (ISO ``HH:MM:SS``)."""

    class Input(_TypedInput):
        value: dt.time | None = pin(None, advanced=False, title="Default Value")

    class Output(BlockSchema):
        result: dt.time = pin(description="The time.")

    id = "2a1c757e-86cf-4c7e-aacf-060dc382e434"
    description = "A time input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "at", "value": "08:30:00"}]
    test_output = [("result", dt.time(8, 30))]


class AgentDropdownInputBlock(AgentInputBlock):
    """A choice among ``options`` (membership is checked by the graph input schema)."""

    class Input(_TypedInput):
        value: str | None = pin(None, advanced=False, title="Default Value")
        options: list[Any] = Field(
            default=[],
            title="Dropdown Options",
            validation_alias=AliasChoices("options", "placeholder_values"),
            json_schema_extra={"advanced": False},
        )

    class Output(BlockSchema):
        result: str = pin(description="The chosen option.")

    id = "655d6fdf-a334-421c-b733-520549c07cd1"
    description = "A dropdown input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [
        {"name": "size", "value": "L", "options": ["S", "M", "L"]},
        {"name": "size", "value": "M", "placeholder_values": ["S", "M"]},
    ]
    test_output = [("result", "L"), ("result", "M")]


class AgentToggleInputBlock(AgentInputBlock):
    """A boolean switch; always emits (false when not supplied)."""

    class Input(_TypedInput):
        value: bool = pin(False, advanced=False, title="Default Value")

    class Output(BlockSchema):
        result: bool = pin(description="The switch state.")

    id = "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e"
    description = "A toggle (boolean) input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "loud", "value": True}, {"name": "loud"}]
    test_output = [("result", True), ("result", False)]


class AgentTableInputBlock(AgentInputBlock):
    """A table of rows keyed by column header; always emits (``[]`` when empty)."""

    class Input(_TypedInput):
        value: list[dict[str, Any]] | None = pin(None, advanced=False, title="Default Value")
        column_headers: list[str] = pin(
            default_factory=lambda: ["Column 1", "Column 2", "Column 3"],
            advanced=False,
            title="Column Headers",
        )

    class Output(BlockSchema):
        result: list[dict[str, Any]] = pin(description="The table rows.")

    id = "5603b273-f41e-4020-af7d-fbc9c6a8d928"
    description = "A table input of the agent."
    input_schema = Input
    output_schema = Output
    emits_when_empty = True
    test_input = [
        {"name": "rows", "value": [{"Column 1": "a"}]},
        {"name": "rows"},
    ]
    test_output = [("result", [{"Column 1": "a"}]), ("result", [])]

    def empty_value(self) -> Any:
        """An empty table."""
        return []


class AgentFileInputBlock(AgentInputBlock):
    """A file input: the file (a reference from ``POST /api/files/upload``, a data: URI or a
    URL) is stored for the run's user and ``result`` is its reference (see FileStoreBlock)."""

    class Input(_TypedInput):
        value: str | None = pin(None, advanced=False, title="Default Value")
        base_64: bool = pin(False, title="Produce Base64 Output")

    class Output(BlockSchema):
        result: str = pin(description="Reference to the file.")

    id = "95ead23f-8283-4654-aef3-10c053b74a31"
    description = "A file input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "value": "data:image/png;base64,MQ==",
            "name": "file_upload_1",
            "description": "Example file upload 1",
        },
        {"name": "doc"},
    ]
    test_output = [("result", str)]

    def test_context(self, context: BlockContext) -> BlockContext:
        """The self-test's in-memory file store (the executor passes the real one)."""
        return with_stores(context)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:  # type: ignore[override]
        if input_data.value:
            yield "result", await store_file(input_data.value, context, base_64=input_data.base_64)


AttachmentView = Literal[
    "DOCS", "DOCUMENTS", "SPREADSHEETS", "PRESENTATIONS", "DOCS_IMAGES", "FOLDERS"
]


class AgentGoogleDriveFileInputBlock(AgentInputBlock):
    """A Google Drive file picked in the UI; passed through as its metadata object."""

    class Input(_TypedInput):
        value: dict[str, Any] | None = pin(None, advanced=False, title="Selected File")
        allowed_views: list[AttachmentView] = pin(
            default_factory=lambda: ["DOCS", "SPREADSHEETS", "PRESENTATIONS"],
            advanced=False,
            title="Allowed Views",
        )
        allow_folder_selection: bool = pin(False, title="Allow Folder Selection")

    class Output(BlockSchema):
        result: dict[str, Any] = pin(description="The selected file.")

    id = "d3b32f15-6fd7-40e3-be52-e083f51b19a2"
    description = "A Google Drive file input of the agent."
    input_schema = Input
    output_schema = Output
    test_input = [{"name": "f", "value": {"id": "abc", "name": "Plan"}}, {"name": "f"}]
    test_output = [("result", {"id": "abc", "name": "Plan"})]


class AgentOutputBlock(Block["AgentOutputBlock.Input"]):
    """A graph output: records ``value`` under ``name``, optionally through a template."""

    class Input(BlockSchema):
        value: Any = pin(None, advanced=False, description="Value to record.")
        name: str = pin(description="Name of the output.")
        title: str | None = pin(None, description="Title shown for the output.")
        description: str | None = pin(None, description="Description of the output.")
        format: str = pin("", description="Jinja2 template; the value is named after the output.")
        escape_html: bool = pin(False, description="HTML-escape the rendered template.")
        advanced: bool = pin(False, description="Show only in advanced settings.")
        secret: bool = pin(False, description="The value is secret.")

    class Output(BlockSchema):
        output: Any = pin(description="The recorded value.")
        name: Any = pin(description="The output name.")

    id = "363ae599-353e-4804-937e-b2ee3cef3da4"
    description = "An output of the agent."
    categories = (BlockCategory.BASIC, BlockCategory.OUTPUT)
    block_type = BlockType.OUTPUT
    input_schema = Input
    output_schema = Output
    static_output = True
    test_input = [
        {"name": "greeting", "value": "Hello, World!"},
        {"name": "output_1", "value": "Hello, World!", "format": "{{ output_1 }}!!"},
        {"name": "x", "value": "<b>", "format": "{{ x }}", "escape_html": True},
        {"name": "x", "value": 1, "format": "{{ x "},
    ]
    test_output = [
        ("output", "Hello, World!"),
        ("name", "greeting"),
        ("output", "Hello, World!!!"),
        ("output", "&lt;b&gt;"),
        ("output", lambda text: text.startswith("Error: ") and text.endswith(", 1")),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        if not input_data.format:
            yield "output", input_data.value
            yield "name", input_data.name
            return
        try:
            rendered = await render_template(
                input_data.format,
                {input_data.name: input_data.value},
                escape_html=input_data.escape_html,
            )
        except TemplateRenderError as exc:
            yield "output", f"Error: {exc}, {input_data.value}"
            return
        yield "output", rendered
