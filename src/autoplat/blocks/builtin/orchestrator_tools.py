"""The Orchestrator's tools: definitions built from its tool nodes, and checks of the model's calls.

Invariants:

- what the model sees are names providers accept (AutoGPT's rule: every character outside
  ``[a-zA-Z0-9_-]`` becomes ``_``, lower case), unique within one call; each definition keeps
  the node it runs and the pin each argument feeds, so a call is routed by node id and field
  name, never by the name the model typed;
- a linked field is a required argument unless a value for it exists without the model (the
  node's own input, the pin's default): a tool node waits for every linked pin, so an argument
  the model may leave out must have something to send in its place;
- a call is checked completely (a known tool, arguments that are one JSON object, no unknown
  argument, every required one) before anything runs or is emitted; a bad call becomes a
  message for the model, never an exception.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from autoplat.blocks.base import BlockSchema, BlockType
from autoplat.blocks.llm.types import InvalidToolArguments, Message, ToolCall, ToolDefinition
from autoplat.blocks.tooling import ToolNode

#: Providers cap function names at 64 characters.
NAME_LIMIT: Final = 64
_UNSAFE: Final = re.compile(r"[^a-zA-Z0-9_-]")
#: Dynamic pin delimiters (``values_#_key``): such a field is a string argument.
_DELIMITERS: Final = ("_$_", "_#_", "_@_")
#: Pin-schema keys that are autoplat's own UI hints, not JSON Schema.
_UI_KEYS: Final = frozenset(
    {"advanced", "hidden", "secret", "placeholder", "placeholder_values", "depends_on"}
)
#: Inputs never shown to the model in a tool description: secrets and the sub-agent plumbing.
_SENSITIVE: Final = ("credentials", "api_key", "password", "token", "secret")
_AGENT_PLUMBING: Final = frozenset(
    {"user_id", "graph_id", "graph_version", "input_schema", "output_schema", "agent_name"}
    | {"inputs", "nodes_input_masks"}
)
_PRESET_VALUE_LIMIT: Final = 100


def clean_name(text: str) -> str:
    """A name providers accept for a tool or an argument (AutoGPT's sanitising rule)."""
    return _UNSAFE.sub("_", text).lower()[:NAME_LIMIT] or "tool"


@dataclass(slots=True)
class Tool:
    """One tool offered to the model and the node that runs it."""

    definition: ToolDefinition
    node_id: str
    #: argument name -> the sink pin (link ``sink_name``) it feeds, in link order.
    fields: dict[str, str]
    #: argument name -> the value sent when the model leaves that (optional) argument out.
    defaults: dict[str, Any] = field(default_factory=dict)
    #: The node's own inputs the model cannot change (shown only to tell tools apart).
    preset: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The name the model calls it by."""
        return self.definition.name

    def wire_form(self) -> dict[str, Any]:
        """The definition as Chat Completions lists it (AutoGPT's ``tool_functions`` output)."""
        return {
            "type": "function",
            "function": {
                "name": self.definition.name,
                "description": self.definition.description,
                "parameters": self.definition.object_schema(),
            },
        }


@dataclass(slots=True)
class CheckedCall:
    """A call that names a tool and gives it acceptable arguments."""

    call: ToolCall
    tool: Tool
    arguments: dict[str, Any]

    def pin_values(self) -> list[tuple[str, Any]]:
        """``(sink pin, value)`` for every argument of the tool, defaults filling gaps."""
        return [
            (pin, self.arguments[arg] if arg in self.arguments else self.tool.defaults.get(arg))
            for arg, pin in self.tool.fields.items()
        ]


# --- definitions -----------------------------------------------------------------------------


_SCHEMAS: dict[type[BlockSchema], dict[str, Any]] = {}


def _input_schema(schema: type[BlockSchema]) -> dict[str, Any]:
    """A block's input JSON schema, computed once per class (callers copy what they keep)."""
    if schema not in _SCHEMAS:
        _SCHEMAS[schema] = schema.json_schema()
    return _SCHEMAS[schema]


def _inline(value: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    """``value`` with local ``#/$defs/...`` references replaced by copies of their targets."""
    if depth > 20:
        return value
    if isinstance(value, list):
        return [_inline(item, defs, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    ref = value.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        target = dict(defs[ref[8:]])
        target.update({k: v for k, v in value.items() if k != "$ref"})
        return _inline(target, defs, depth + 1)
    return {k: _inline(v, defs, depth + 1) for k, v in value.items()}


def _argument_schema(prop: Any) -> dict[str, Any]:
    """A pin's schema as the model sees it: JSON Schema without autoplat's UI hints."""
    if not isinstance(prop, dict):
        return {}
    return {
        k: copy.deepcopy(v)
        for k, v in prop.items()
        if k not in _UI_KEYS and not k.startswith("credentials_")
    }


def _is_dynamic(pin: str) -> bool:
    return any(d in pin for d in _DELIMITERS)


def _base(pin: str) -> str:
    cuts = [i for i in (pin.find(d) for d in _DELIMITERS) if i >= 0]
    return pin[: min(cuts)] if cuts else pin


def _is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SENSITIVE)


def _preset(node: ToolNode) -> dict[str, Any]:
    agent = node.block.block_type == BlockType.AGENT
    return {
        key: value
        for key, value in node.input_default.items()
        if key not in node.fields
        and not key.startswith("_")
        and not _is_sensitive(key)
        and not (agent and key in _AGENT_PLUMBING)
        and value is not None
        and value not in ("", [], {})
    }


def _display_name(node: ToolNode) -> str:
    custom = node.metadata.get("customized_name")
    if isinstance(custom, str) and custom.strip():
        return custom
    if node.sub_agent is not None:
        return node.sub_agent.name
    return node.block.name


def _block_tool(node: ToolNode) -> Tool:
    """A tool running a block node: its linked fields with the block's pin schemas."""
    schema = _input_schema(node.block.input_schema)
    defs = schema.get("$defs", {})
    props = schema.get("properties", {})
    required_pins = set(schema.get("required", []))
    properties: dict[str, Any] = {}
    fields: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    required: set[str] = set()
    for pin in node.fields:
        arg = clean_name(pin)
        fields[arg] = pin
        if _is_dynamic(pin):
            properties[arg] = {"type": "string", "description": f"The value of {pin}."}
            known = False
        else:
            prop = _inline(_argument_schema(props.get(pin)), defs)
            prop.setdefault("description", f"The {pin} of the tool.")
            properties[arg] = prop
            known = pin in node.input_default or "default" in prop
            if pin in node.input_default:
                defaults[arg] = node.input_default[pin]
            elif "default" in prop:
                defaults[arg] = prop["default"]
        base_required = (_base(pin) if _is_dynamic(pin) else pin) in required_pins
        if base_required or not known:
            required.add(arg)
            defaults.pop(arg, None)
    return Tool(
        ToolDefinition(
            name=clean_name(_display_name(node)),
            description=node.block.description,
            parameters={
                "type": "object",
                "properties": properties,
                "required": sorted(required),
                "additionalProperties": False,
            },
        ),
        node.node_id,
        fields,
        defaults,
        _preset(node),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _agent_tool(node: ToolNode) -> Tool:
    """A tool running a sub-agent: its linked inputs with the sub-graph's input schema."""
    schema = _mapping(node.input_default.get("input_schema"))
    props = _mapping(schema.get("properties"))
    required_pins = set(schema.get("required") or [])
    presets = _mapping(node.input_default.get("inputs"))
    properties: dict[str, Any] = {}
    fields: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    required: set[str] = set()
    for pin in node.fields:
        arg = clean_name(pin)
        fields[arg] = pin
        prop = _argument_schema(props.get(pin))
        prop.pop("title", None)
        if not any(k in prop for k in ("type", "anyOf", "oneOf", "enum", "const")):
            prop["type"] = "string"
        prop.setdefault("description", f"The {pin} of the tool.")
        properties[arg] = prop
        if pin in presets and presets[pin] is not None:
            defaults[arg] = presets[pin]
        elif prop.get("default") is not None:
            defaults[arg] = prop["default"]
        if pin in required_pins or arg not in defaults:
            required.add(arg)
            defaults.pop(arg, None)
    sub_agent = node.sub_agent
    return Tool(
        ToolDefinition(
            name=clean_name(_display_name(node)),
            description=sub_agent.description if sub_agent is not None else "",
            parameters={
                "type": "object",
                "properties": properties,
                "required": sorted(required),
                "additionalProperties": False,
            },
        ),
        node.node_id,
        fields,
        defaults,
        _preset(node),
    )


def _render_preset(preset: Mapping[str, Any]) -> str:
    parts = []
    for key, value in preset.items():
        text = json.dumps(value, default=str)
        if len(text) > _PRESET_VALUE_LIMIT:
            text = text[: _PRESET_VALUE_LIMIT - 20] + "...<truncated>"
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def _disambiguate(tools: list[Tool]) -> None:
    """Give tools that share a name ``_1``, ``_2``... suffixes and say how they differ.

    Providers (Anthropic) refuse duplicate names, and several nodes of one block have one.
    A suffix never takes a name another tool already has; a renamed tool's description
    gains the node's preset inputs, the only thing that tells the copies apart.
    """
    counts = Counter(tool.name for tool in tools)
    taken = set(counts)
    serial: dict[str, int] = {}
    for tool in tools:
        name = tool.name
        if counts[name] < 2:
            continue
        while True:
            serial[name] = serial.get(name, 0) + 1
            suffix = f"_{serial[name]}"
            candidate = f"{name[: NAME_LIMIT - len(suffix)]}{suffix}"
            if candidate not in taken:
                break
        taken.add(candidate)
        description = tool.definition.description
        if tool.preset:
            description = f"{description} [Pre-configured: {_render_preset(tool.preset)}]".strip()
        tool.definition = ToolDefinition(candidate, description, tool.definition.parameters)


def build_tools(nodes: Iterable[ToolNode]) -> list[Tool]:
    """One tool per node, in node order, with unique names."""
    tools = [
        _agent_tool(node) if node.block.block_type == BlockType.AGENT else _block_tool(node)
        for node in nodes
    ]
    _disambiguate(tools)
    return tools


# --- the model's calls -----------------------------------------------------------------------


def check_call(call: ToolCall, tools: Sequence[Tool]) -> CheckedCall | str:
    """The call made usable, or what is wrong with it (a message for the model).

    A name that matches no tool is accepted only when there is exactly one tool (AutoGPT
    does so too: models sometimes misspell the only choice).
    """
    tool = next((t for t in tools if t.name == call.name), None)
    if tool is None:
        if len(tools) != 1:
            names = ", ".join(t.name for t in tools)
            return f"there is no tool named {call.name!r}; the tools are: {names}"
        tool = tools[0]
    try:
        arguments = call.parse_arguments()
    except InvalidToolArguments as exc:
        return f"{exc.message}; send the arguments as one JSON object"
    schema = tool.definition.parameters
    expected = set(schema.get("properties", {}))
    required = set(schema.get("required", []))
    unknown = sorted(set(arguments) - expected)
    missing = sorted(required - set(arguments))
    if not unknown and not missing:
        return CheckedCall(call, tool, arguments)
    problems = []
    if unknown:
        problems.append(f"unknown arguments {unknown}")
    if missing:
        problems.append(f"missing required arguments {missing}")
    return (
        f"the call of {tool.name!r} has {' and '.join(problems)}; its arguments are "
        f"{sorted(expected)} (required: {sorted(required)})"
    )


def error_feedback(problem: str) -> str:
    """The tool result that tells the model its call was not run, and why."""
    return f"Error: the tool was not run: {problem}. Fix the call and try again."


# --- the conversation ------------------------------------------------------------------------


def _requested(message: Mapping[str, Any]) -> list[str]:
    """Ids of the tool calls a message asks for (Chat Completions, Responses, Anthropic)."""
    if message.get("type") == "function_call":
        return [str(message["call_id"])] if message.get("call_id") else []
    if message.get("role") != "assistant":
        return []
    ids = [
        str(call["id"])
        for call in message.get("tool_calls") or []
        if isinstance(call, dict) and call.get("id")
    ]
    content = message.get("content")
    if isinstance(content, list):
        ids += [
            str(part["id"])
            for part in content
            if isinstance(part, dict) and part.get("type") == "tool_use" and part.get("id")
        ]
    return ids


def _answered(message: Mapping[str, Any]) -> list[str]:
    """Ids of the tool calls a message answers (Chat Completions, Responses, Anthropic)."""
    if message.get("type") == "function_call_output":
        return [str(message["call_id"])] if message.get("call_id") else []
    if message.get("role") == "tool":
        return [str(message["tool_call_id"])] if message.get("tool_call_id") else []
    content = message.get("content")
    if message.get("role") == "user" and isinstance(content, list):
        return [
            str(part["tool_use_id"])
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "tool_result"
            and part.get("tool_use_id")
        ]
    return []


def pending_tool_calls(conversation: Any) -> list[str]:
    """Ids of the calls in ``conversation`` that no tool result answers yet, in order."""
    if not isinstance(conversation, list):
        return []
    open_calls: Counter[str] = Counter()
    order: list[str] = []
    for message in conversation:
        if not isinstance(message, dict):
            continue
        for call_id in _requested(message):
            open_calls[call_id] += 1
            if call_id not in order:
                order.append(call_id)
        for call_id in _answered(message):
            open_calls[call_id] -= 1
    return [call_id for call_id in order if open_calls[call_id] > 0]


def messages_of(history: Any) -> list[Message]:
    """The non-empty messages of a carried conversation, copied."""
    if not isinstance(history, list):
        return []
    return [copy.deepcopy(m) for m in history if isinstance(m, dict) and m]
