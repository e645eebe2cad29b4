"""Which links can never carry a value their sink accepts (a deliberately narrow check).

The executor coerces a link value to the sink pin's type with the lenient ``convert()``
(blocks.md §4): every basic target type (string, number, integer, boolean, array, object)
accepts anything, so a ``str`` output into an ``int`` pin is fine. ``convert()`` leaves enums
and models untouched, and pydantic rejects them, so only these links are flagged:

* a sink restricted to string values (an enum or const of strings) fed by an output whose
  declared types include no string (e.g. an ``int``, ``list`` or ``dict`` output);
* a sink that is a model (an object schema with declared ``properties``) fed by an output whose
  declared types include no object.

Unconstrained pins (``Any``, no type information) are compatible with everything.
"""

from __future__ import annotations

from typing import Any

JsonSchema = dict[str, Any]

_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _non_null_members(schema: JsonSchema) -> list[JsonSchema]:
    """The alternatives of a union schema other than ``null`` (or the schema itself)."""
    for key in ("anyOf", "oneOf"):
        members = schema.get(key)
        if isinstance(members, list):
            return [m for m in members if isinstance(m, dict) and m.get("type") != "null"]
    return [schema]


def declared_types(schema: JsonSchema) -> set[str] | None:
    """The JSON types a schema allows besides null; None when it is unconstrained."""
    found: set[str] = set()
    for member in _non_null_members(schema):
        kind = member.get("type")
        if isinstance(kind, str):
            found.add(kind)
        elif isinstance(kind, list):
            found.update(str(k) for k in kind)
        elif "enum" in member or "const" in member:
            values = member.get("enum", [member.get("const")])
            found.update(_JSON_TYPES.get(type(v), "object") for v in values if v is not None)
        else:
            return None
    found.discard("null")
    if "integer" in found:
        found.add("number")
    return found or None


def _string_values_only(schema: JsonSchema) -> bool:
    members = _non_null_members(schema)
    if not members:
        return False
    for member in members:
        values = member.get("enum", [member["const"]] if "const" in member else None)
        if not isinstance(values, list) or not values:
            return False
        if not all(isinstance(v, str) for v in values if v is not None):
            return False
    return True


def _is_model(schema: JsonSchema) -> bool:
    members = _non_null_members(schema)
    return bool(members) and all(
        m.get("type") == "object" and isinstance(m.get("properties"), dict) and m["properties"]
        for m in members
    )


def incompatibility(source: JsonSchema, sink: JsonSchema) -> str | None:
    """Why a value of schema ``source`` can never satisfy ``sink``, or None if it might."""
    produced = declared_types(source)
    if produced is None:
        return None
    if _string_values_only(sink) and "string" not in produced:
        kinds = ", ".join(sorted(produced))
        return f"output of type {kinds} can never be one of the pin's allowed values"
    if _is_model(sink) and "object" not in produced:
        kinds = ", ".join(sorted(produced))
        return f"output of type {kinds} can never be the object this pin expects"
    return None
