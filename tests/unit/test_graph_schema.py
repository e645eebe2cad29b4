"""Graph-level input/output JSON schemas derived from INPUT and OUTPUT nodes."""

from __future__ import annotations

from typing import Any

import pytest

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockSchema, BlockType
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.schema import pin
from autoplat.graphs import catalog
from autoplat.graphs.model import Graph, Node
from autoplat.graphs.schema import (
    graph_input_schema,
    graph_output_schema,
    inline_refs,
    node_value,
    pin_schema,
)


def nullable(inner: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [inner, {"type": "null"}]}


def with_nodes(*nodes: Node) -> Graph:
    return Graph(id="g", name="g", nodes=list(nodes))


def io_node(block_id: str, node_id: str = "n", **input_default: Any) -> Node:
    return Node(id=node_id, block_id=block_id, input_default=input_default)


BASE = {"advanced": False, "secret": False, "title": "x"}

INPUT_TYPES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("any", catalog.AGENT_INPUT, {}, {}),
    (
        "short text",
        catalog.SHORT_TEXT_INPUT,
        {},
        nullable({"type": "string", "format": "short-text"}),
    ),
    ("long text", catalog.LONG_TEXT_INPUT, {}, nullable({"type": "string", "format": "long-text"})),
    ("number", catalog.NUMBER_INPUT, {}, nullable({"type": "integer"})),
    ("date", catalog.DATE_INPUT, {}, nullable({"type": "string", "format": "date"})),
    ("time", catalog.TIME_INPUT, {}, nullable({"type": "string", "format": "time"})),
    ("file", catalog.FILE_INPUT, {}, nullable({"type": "string", "format": "file"})),
    ("drive file", catalog.GOOGLE_DRIVE_FILE_INPUT, {}, nullable({"type": "object"})),
    ("dropdown", catalog.DROPDOWN_INPUT, {}, nullable({"type": "string"})),
    (
        "dropdown options",
        catalog.DROPDOWN_INPUT,
        {"options": ["a", "b"]},
        {**nullable({"type": "string"}), "enum": ["a", "b"]},
    ),
    (
        "dropdown legacy placeholder_values",
        catalog.DROPDOWN_INPUT,
        {"placeholder_values": ["a"]},
        {**nullable({"type": "string"}), "enum": ["a"]},
    ),
    (
        "base input ignores placeholder_values",
        catalog.AGENT_INPUT,
        {"placeholder_values": ["a"]},
        {},
    ),
    (
        "table",
        catalog.TABLE_INPUT,
        {},
        {
            "type": "array",
            "format": "table",
            "items": {
                "type": "object",
                "properties": {f"Column {i}": {"type": "string"} for i in (1, 2, 3)},
            },
        },
    ),
    (
        "table headers",
        catalog.TABLE_INPUT,
        {"column_headers": ["A"]},
        {
            "type": "array",
            "format": "table",
            "items": {"type": "object", "properties": {"A": {"type": "string"}}},
        },
    ),
]


@pytest.mark.parametrize(
    ("block_id", "extra", "type_schema"),
    [case[1:] for case in INPUT_TYPES],
    ids=[case[0] for case in INPUT_TYPES],
)
def test_input_types(block_id: str, extra: dict[str, Any], type_schema: dict[str, Any]) -> None:
    schema = graph_input_schema(with_nodes(io_node(block_id, name="x", **extra)))
    assert schema == {
        "type": "object",
        "properties": {"x": {**type_schema, **BASE}},
        "required": ["x"],
    }


def test_toggle_defaults_to_false_and_is_not_required() -> None:
    schema = graph_input_schema(with_nodes(io_node(catalog.TOGGLE_INPUT, name="on")))
    assert schema["properties"]["on"] == {
        "type": "boolean", "advanced": False, "secret": False, "title": "on", "default": False,
    }  # fmt: skip
    assert schema["required"] == []


PROPERTIES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("name only", {"name": "x"}, BASE, True),
    (
        "default makes it optional",
        {"name": "x", "value": "d"},
        {**BASE, "default": "d"},
        False,
    ),
    ("falsy default counts", {"name": "x", "value": 0}, {**BASE, "default": 0}, False),
    ("null value is no default", {"name": "x", "value": None}, BASE, True),
    ("title", {"name": "x", "title": "Nice"}, {**BASE, "title": "Nice"}, True),
    ("empty title falls back to the name", {"name": "x", "title": ""}, BASE, True),
    ("description", {"name": "x", "description": "d"}, {**BASE, "description": "d"}, True),
    ("empty description is omitted", {"name": "x", "description": ""}, BASE, True),
    ("secret", {"name": "x", "secret": True}, {**BASE, "secret": True}, True),
    ("advanced without default is not advanced", {"name": "x", "advanced": True}, BASE, True),
    (
        "advanced with default",
        {"name": "x", "advanced": True, "value": 1},
        {**BASE, "advanced": True, "default": 1},
        False,
    ),
]


@pytest.mark.parametrize(
    ("input_default", "prop", "required"),
    [case[1:] for case in PROPERTIES],
    ids=[case[0] for case in PROPERTIES],
)
def test_input_properties(
    input_default: dict[str, Any], prop: dict[str, Any], required: bool
) -> None:
    schema = graph_input_schema(with_nodes(io_node(catalog.AGENT_INPUT, **input_default)))
    assert schema["properties"] == {"x": prop}
    assert schema["required"] == (["x"] if required else [])


def test_outputs_and_inputs_are_kept_apart() -> None:
    g = with_nodes(
        io_node(catalog.AGENT_INPUT, "i", name="q", value="v"),
        io_node(catalog.AGENT_OUTPUT, "o1", name="a", description="answer"),
        io_node(catalog.AGENT_OUTPUT, "o2", name="b", value=1),
        io_node("some-other-block", "s", name="ignored"),
    )
    assert list(graph_input_schema(g)["properties"]) == ["q"]
    assert graph_output_schema(g) == {
        "type": "object",
        "properties": {
            "a": {**BASE, "title": "a", "description": "answer"},
            "b": {**BASE, "title": "b", "default": 1},
        },
        "required": ["a"],
    }


def test_nameless_nodes_are_skipped() -> None:
    g = with_nodes(io_node(catalog.AGENT_INPUT, "i1"), io_node(catalog.AGENT_INPUT, "i2", name=3))
    assert graph_input_schema(g) == {"type": "object", "properties": {}, "required": []}


def test_duplicate_names_last_wins() -> None:
    g = with_nodes(
        io_node(catalog.AGENT_INPUT, "i1", name="x"),
        io_node(catalog.AGENT_INPUT, "i2", name="x", value=1),
    )
    schema = graph_input_schema(g)
    assert schema["properties"]["x"]["default"] == 1
    assert schema["required"] == []


class ColourInputBlock(Block["ColourInputBlock.Input"]):
    """An INPUT-type block autoplat does not know by id: its value pin gives the type."""

    class Input(BlockSchema):
        name: str = pin()
        value: str | None = pin(None, pattern="^#[0-9a-f]{6}$", description="dropped")

    class Output(BlockSchema):
        result: str = pin()

    id = "00000000-0000-4000-8000-00000000c001"
    block_type = BlockType.INPUT
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "result", input_data.value


class CountInputBlock(Block["CountInputBlock.Input"]):
    """A registered input block whose value has a non-null default."""

    class Input(BlockSchema):
        name: str = pin()
        value: int = pin(5)

    class Output(BlockSchema):
        result: int = pin()

    id = "00000000-0000-4000-8000-00000000c002"
    block_type = BlockType.INPUT
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "result", input_data.value


def test_registered_input_blocks_give_their_value_type() -> None:
    blocks = BlockRegistry([ColourInputBlock(), CountInputBlock()])
    g = with_nodes(
        io_node(ColourInputBlock.id, "c", name="colour"), io_node(CountInputBlock.id, "k", name="n")
    )
    schema = graph_input_schema(g, blocks)
    assert schema["properties"]["colour"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "pattern": "^#[0-9a-f]{6}$",
        **BASE,
        "title": "colour",
    }
    assert schema["properties"]["n"] == {"type": "integer", **BASE, "title": "n", "default": 5}
    assert schema["required"] == ["colour"]
    # without the registry the blocks are not known to be inputs at all
    assert graph_input_schema(g)["properties"] == {}


def test_node_value() -> None:
    assert node_value(io_node(catalog.AGENT_INPUT, value=3)) == 3
    assert node_value(io_node(catalog.AGENT_INPUT)) is None
    assert node_value(io_node(catalog.TOGGLE_INPUT)) is False
    assert node_value(io_node(catalog.TOGGLE_INPUT, value=None)) is None


def test_inline_refs_and_pin_schema() -> None:
    model = {
        "$defs": {
            "Mode": {"enum": ["a"], "type": "string"},
            "Box": {"properties": {"m": {"$ref": "#/$defs/Mode"}}},
        },
        "properties": {"box": {"$ref": "#/$defs/Box", "title": "Box"}, "n": {"type": "integer"}},
    }
    assert pin_schema(model, "box") == {
        "properties": {"m": {"enum": ["a"], "type": "string"}},
        "title": "Box",
    }
    assert pin_schema(model, "missing") == {}
    assert inline_refs({"$ref": "#/$defs/Nope"}, {}) == {}
    loop = {"A": {"items": {"$ref": "#/$defs/A"}}}
    assert isinstance(inline_refs({"$ref": "#/$defs/A"}, loop), dict)
