"""Graph-level ``input_schema`` / ``output_schema`` (JSON Schema) from INPUT and OUTPUT nodes.

Each INPUT node contributes a property keyed by its ``name``: the type of its block's
``value`` pin, ``advanced`` (only true when a default exists), ``secret``, ``title`` (title or
name), ``description`` (when set) and ``default`` (the node's value, when not null); it is
required when it has no value. OUTPUT nodes contribute the same way with an untyped value.
The value types of AutoGPT's input blocks are fixed here (blocks.md §3.2) so exports match
AutoGPT's byte for byte; other INPUT-type blocks get the type of their registered ``value`` pin.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from autoplat.blocks.base import BlockType
from autoplat.graphs import catalog
from autoplat.graphs.catalog import BlockLookup, block_type_of, json_schema_of
from autoplat.graphs.model import Graph, Node

JsonSchema = dict[str, Any]


def _nullable(inner: JsonSchema) -> JsonSchema:
    return {"anyOf": [inner, {"type": "null"}]}


_VALUE_SCHEMAS: Final[dict[str, JsonSchema]] = {
    catalog.AGENT_INPUT: {},
    catalog.SHORT_TEXT_INPUT: _nullable({"type": "string", "format": "short-text"}),
    catalog.LONG_TEXT_INPUT: _nullable({"type": "string", "format": "long-text"}),
    catalog.NUMBER_INPUT: _nullable({"type": "integer"}),
    catalog.DATE_INPUT: _nullable({"type": "string", "format": "date"}),
    catalog.TIME_INPUT: _nullable({"type": "string", "format": "time"}),
    catalog.DROPDOWN_INPUT: _nullable({"type": "string"}),
    catalog.TOGGLE_INPUT: {"type": "boolean"},
    catalog.TABLE_INPUT: {"type": "array", "format": "table"},
    catalog.FILE_INPUT: _nullable({"type": "string", "format": "file"}),
    catalog.GOOGLE_DRIVE_FILE_INPUT: _nullable({"type": "object"}),
    catalog.AGENT_OUTPUT: {},
}
# Value defaults that are not null (a toggle is false unless set).
_VALUE_DEFAULTS: Final[dict[str, Any]] = {catalog.TOGGLE_INPUT: False}
_DEFAULT_TABLE_HEADERS: Final = ["Column 1", "Column 2", "Column 3"]
# Keys of a pin schema that describe its type (the rest is UI text or per-node data).
_TYPE_KEYS: Final = frozenset(
    {"type", "anyOf", "oneOf", "allOf", "format", "items", "enum", "const", "properties"}
    | {"additionalProperties", "prefixItems", "minItems", "maxItems", "minimum", "maximum"}
    | {"exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern"}
)


def inline_refs(schema: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """``schema`` with local ``#/$defs/...`` references replaced by their definitions."""
    if depth > 20:
        return schema
    if isinstance(schema, list):
        return [inline_refs(item, defs, depth + 1) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return inline_refs({**target, **rest}, defs, depth + 1)
    return {k: inline_refs(v, defs, depth + 1) for k, v in schema.items() if k != "$defs"}


def pin_schema(model_schema: JsonSchema, pin: str) -> JsonSchema:
    """The JSON schema of one pin of a block schema, with references inlined."""
    prop = model_schema.get("properties", {}).get(pin)
    if not isinstance(prop, dict):
        return {}
    resolved = inline_refs(prop, model_schema.get("$defs", {}))
    return resolved if isinstance(resolved, dict) else {}


def _registered_value_schema(node: Node, blocks: BlockLookup | None) -> JsonSchema:
    block = blocks.get(node.block_id) if blocks is not None else None
    if block is None:
        return {}
    schema = pin_schema(json_schema_of(block.input_schema), "value")
    return {k: v for k, v in schema.items() if k in _TYPE_KEYS}


def _value_type(node: Node, blocks: BlockLookup | None) -> JsonSchema:
    """The type part of the node's graph-level property."""
    known = _VALUE_SCHEMAS.get(node.block_id)
    schema = copy.deepcopy(known) if known is not None else _registered_value_schema(node, blocks)
    data = node.input_default
    if node.block_id == catalog.DROPDOWN_INPUT:
        options = data.get("options", data.get("placeholder_values"))
        if isinstance(options, list) and options:
            schema["enum"] = list(options)
    elif node.block_id == catalog.TABLE_INPUT:
        headers = data.get("column_headers")
        if not isinstance(headers, list):
            headers = _DEFAULT_TABLE_HEADERS
        props = {str(h): {"type": "string"} for h in headers}
        schema["items"] = {"type": "object", "properties": props}
    return schema


def node_value(node: Node, blocks: BlockLookup | None = None) -> Any:
    """The value an INPUT/OUTPUT node holds before any run input (its default)."""
    if "value" in node.input_default:
        return node.input_default["value"]
    if node.block_id in _VALUE_DEFAULTS:
        return _VALUE_DEFAULTS[node.block_id]
    block = blocks.get(node.block_id) if blocks is not None else None
    field = block.input_schema.model_fields.get("value") if block is not None else None
    if field is not None and not field.is_required():
        return field.get_default(call_default_factory=True)
    return None


def io_name(node: Node) -> str | None:
    """The graph-level name of an INPUT/OUTPUT node, or None if it has no usable name."""
    name = node.input_default.get("name")
    return name if isinstance(name, str) and name else None


def io_nodes(graph: Graph, kind: BlockType, blocks: BlockLookup | None = None) -> list[Node]:
    """The graph's nodes of block type ``kind`` (INPUT or OUTPUT), in node order."""
    return [n for n in graph.nodes if block_type_of(n, blocks) == kind]


def _property(node: Node, name: str, blocks: BlockLookup | None) -> tuple[JsonSchema, Any]:
    data = node.input_default
    value = node_value(node, blocks)
    prop = _value_type(node, blocks)
    prop["advanced"] = bool(data.get("advanced", False)) and value is not None
    prop["secret"] = bool(data.get("secret", False))
    prop["title"] = data.get("title") or name
    if data.get("description"):
        prop["description"] = data["description"]
    if value is not None:
        prop["default"] = value
    return prop, value


def _io_schema(graph: Graph, kind: BlockType, blocks: BlockLookup | None) -> JsonSchema:
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for node in io_nodes(graph, kind, blocks):
        name = io_name(node)
        if name is None:
            continue
        properties[name], value = _property(node, name, blocks)
        if name in required:
            required.remove(name)
        if value is None:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def graph_input_schema(graph: Graph, blocks: BlockLookup | None = None) -> JsonSchema:
    """The graph's ``input_schema``: one property per INPUT node, keyed by its name."""
    return _io_schema(graph, BlockType.INPUT, blocks)


def graph_output_schema(graph: Graph, blocks: BlockLookup | None = None) -> JsonSchema:
    """The graph's ``output_schema``: one property per OUTPUT node, keyed by its name."""
    return _io_schema(graph, BlockType.OUTPUT, blocks)


def credentials_input_schema(graph: Graph, blocks: BlockLookup | None = None) -> JsonSchema:
    """Credential fields the graph's blocks need, one per provider/type combination.

    A pin counts as a credentials field when its schema carries ``credentials_provider``
    (AutoGPT's marker). Nodes whose metadata says ``credentials_optional`` are not required.
    """
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for node in graph.nodes:
        block = blocks.get(node.block_id) if blocks is not None else None
        if block is None:
            continue
        model_schema = json_schema_of(block.input_schema)
        for pin in model_schema.get("properties", {}):
            field = pin_schema(model_schema, pin)
            providers = field.get("credentials_provider")
            if not providers:
                continue
            types = field.get("credentials_types") or []
            key = "_".join([*map(str, providers), *map(str, types), "credentials"])
            properties.setdefault(key, field)
            optional = bool(node.metadata.get("credentials_optional"))
            if not optional and key not in required:
                required.append(key)
    return {"type": "object", "properties": properties, "required": required}
