"""Value holders, debug echo, notes, type conversion, file pass-through (blocks.md §3.1, §3.5)."""

from __future__ import annotations

import enum
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
    BlockType,
)
from autoplat.blocks.convert import ConversionError, convert
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError
from autoplat.files.media import store_file
from autoplat.files.standin import with_stores


class StoreValueBlock(Block["StoreValueBlock.Input"]):
    """Hold a constant: emits ``data`` when truthy, else the triggering ``input``."""

    class Input(BlockSchema):
        input: Any = pin(description="Trigger; also the value emitted when data is falsy.")
        data: Any = pin(None, description="Constant to emit when truthy.")

    class Output(BlockOutputSchema):
        output: Any = pin(description="The stored value.")

    id = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
    description = "Emits a constant value (or the trigger input) each time it is triggered."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    static_output = True
    test_input = [
        {"input": "trigger", "data": "kept"},
        {"input": "fallback"},
        {"input": 7, "data": 0},
    ]
    test_output = [("output", "kept"), ("output", "fallback"), ("output", 7)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "output", input_data.data or input_data.input


class PrintToConsoleBlock(Block["PrintToConsoleBlock.Input"]):
    """Debug echo; disabled like upstream, kept so old graphs still import."""

    class Input(BlockSchema):
        text: Any = pin(description="Value to echo.")

    class Output(BlockOutputSchema):
        output: Any = pin(description="The echoed value.")
        status: str = pin(description="Always 'printed'.")

    id = "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c"
    description = "Echoes its input (debugging aid; disabled)."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    disabled = True
    test_input = [{"text": "hello"}]
    test_output = [("output", "hello"), ("status", "printed")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "output", input_data.text
        yield "status", "printed"


class NoteBlock(Block["NoteBlock.Input"]):
    """A sticky note on the canvas; never executed by the graph executor."""

    class Input(BlockSchema):
        text: str = pin(description="Note text.")

    class Output(BlockOutputSchema):
        output: str = pin(description="The note text.")

    id = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
    description = "A note shown on the graph canvas."
    categories = (BlockCategory.BASIC,)
    block_type = BlockType.NOTE
    input_schema = Input
    output_schema = Output
    test_input = [{"text": "remember the milk"}]
    test_output = [("output", "remember the milk")]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "output", input_data.text


class TypeOptions(enum.StrEnum):
    """Targets of UniversalTypeConverterBlock."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"
    DICTIONARY = "dictionary"


_TARGETS: dict[TypeOptions, type] = {
    TypeOptions.STRING: str,
    TypeOptions.NUMBER: float,
    TypeOptions.BOOLEAN: bool,
    TypeOptions.LIST: list,
    TypeOptions.DICTIONARY: dict,
}


class UniversalTypeConverterBlock(Block["UniversalTypeConverterBlock.Input"]):
    """Convert a value to string, number, boolean, list or dictionary (lenient rules)."""

    class Input(BlockSchema):
        value: Any = pin(description="Value to convert.")
        type: TypeOptions = pin(description="Target type.")

    class Output(BlockOutputSchema):
        value: Any = pin(description="The converted value.")

    id = "95d1b990-ce13-4d88-9737-ba5c2070c97b"
    description = "Converts a value to another type using lenient conversion rules."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {"value": 5, "type": "string"},
        {"value": "2.5", "type": "number"},
        {"value": "TRUE", "type": "boolean"},
        {"value": "[1, 2]", "type": "list"},
        {"value": '{"a": 1}', "type": "dictionary"},
        {"value": ["x", "y"], "type": "dictionary"},
    ]
    test_output = [
        ("value", "5"),
        ("value", 2.5),
        ("value", True),
        ("value", [1, 2]),
        ("value", {"a": 1}),
        ("value", {0: "x", 1: "y"}),
    ]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        try:
            converted = convert(input_data.value, _TARGETS[input_data.type])
        except ConversionError as exc:
            raise BlockRunError(f"Failed to convert value: {exc}") from exc
        yield "value", converted


class FileStoreBlock(Block["FileStoreBlock.Input"]):
    """Store a file for the run's user and pass on its reference.

    ``file_in`` is a file reference, a ``data:`` URI or an http(s) URL (fetched through the
    run's vetted client); ``file_out`` is a reference to the stored copy (a reference given
    is passed on as it is), or a base64 ``data:`` URI with ``base_64``. Local paths are
    refused: a graph author must not be able to read the server's disk. Without a file
    store (an executor that passes none) files travel inline, as data: URIs or URLs.
    """

    class Input(BlockSchema):
        file_in: str = pin(description="The file: a file reference, a data: URI or a URL.")
        base_64: bool = pin(False, title="Produce Base64 Output")

    class Output(BlockOutputSchema):
        file_out: str = pin(description="The stored file's reference.")

    id = "cbb50872-625b-42f0-8203-a2ae78242d8a"
    description = "Stores a file and emits a reference to it."
    categories = (BlockCategory.BASIC, BlockCategory.MULTIMEDIA)
    input_schema = Input
    output_schema = Output
    static_output = True
    test_input = [
        {"file_in": "data:text/plain;base64,aGk="},
        {"file_in": "data:text/plain,hi", "base_64": True},
        {"file_in": "/etc/passwd"},
    ]
    test_output = [
        ("file_out", lambda ref: ref.startswith("autoplat://files/")),
        ("file_out", "data:text/plain;base64,aGk="),
        ("error", lambda msg: "not supported" in msg),
    ]

    def test_context(self, context: BlockContext) -> BlockContext:
        """The self-test's in-memory file store (the executor passes the real one)."""
        return with_stores(context)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "file_out", await store_file(input_data.file_in, context, base_64=input_data.base_64)


class ReverseListOrderBlock(Block["ReverseListOrderBlock.Input"]):
    """Reverse a list."""

    class Input(BlockSchema):
        input_list: list[Any] = pin(description="List to reverse.")

    class Output(BlockOutputSchema):
        reversed_list: list[Any] = pin(description="The list in reverse order.")

    id = "422cb708-3109-4277-bfe3-bc2ae5812777"
    description = "Reverses the order of a list."
    categories = (BlockCategory.BASIC,)
    input_schema = Input
    output_schema = Output
    test_input = [{"input_list": [1, "two", None]}, {"input_list": []}]
    test_output = [("reversed_list", [None, "two", 1]), ("reversed_list", [])]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "reversed_list", list(reversed(input_data.input_list))
