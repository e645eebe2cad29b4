"""Which inputs of a block take credentials, and which credential each node of a graph uses.

Invariant: a block's credentials inputs are exactly its pins named ``credentials`` or
``*_credentials`` plus any pin whose schema carries AutoGPT's ``credentials_provider``
marker; what such a pin accepts comes from the markers (``credentials_provider``,
``credentials_types``, ``credentials_scopes``, and ``discriminator`` with
``discriminator_mapping`` when the provider depends on another input, e.g. the LLM
``model``). A pin without markers accepts any provider and type.

A node's credentials come from its own inputs, overridden by the run's
``credentials_inputs`` (AutoGPT's precedence). A ``credentials_inputs`` entry applies to
a node's field when its key is the field's aggregated key (the key
``credentials_input_schema`` lists), else when its provider and type are ones the field
accepts for that node.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from autoplat.blocks.base import Block, BlockSchema
from autoplat.graphs.model import Graph, Node
from autoplat.graphs.schema import inline_refs
from autoplat.integrations.model import CredentialsRef


def is_credentials_name(name: str) -> bool:
    """AutoGPT's naming rule for credentials inputs."""
    return name == "credentials" or name.endswith("_credentials")


def normalize_provider(name: str) -> str:
    """A provider name as stored; AutoGPT exports made on Python 3.13 say ``ProviderName.X``."""
    if name.startswith("ProviderName."):
        return name.removeprefix("ProviderName.").lower()
    return name


@dataclass(frozen=True)
class CredentialsField:
    """One credentials input of a block and what it accepts (empty tuple: anything)."""

    name: str
    providers: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    required: bool = True
    discriminator: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: The discriminator pin's default, for nodes that leave it unset.
    discriminator_default: Any = None

    @property
    def key(self) -> str:
        """The aggregated key of this field in a graph's ``credentials_input_schema``."""
        return "_".join([*self.providers, *self.types, "credentials"])

    def providers_for(self, inputs: Mapping[str, Any]) -> tuple[str, ...]:
        """The providers accepted given the node's other inputs (the discriminator's value)."""
        if self.discriminator and self.mapping:
            value = inputs.get(self.discriminator, self.discriminator_default)
            if isinstance(value, str) and value in self.mapping:
                return (self.mapping[value],)
        return self.providers

    def accepts(self, provider: str, type: str, inputs: Mapping[str, Any]) -> bool:
        """Whether a credential of this provider and type fits this field here."""
        providers = self.providers_for(inputs)
        return (not providers or provider in providers) and (not self.types or type in self.types)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


@functools.cache
def _schema_fields(schema: type[BlockSchema]) -> tuple[CredentialsField, ...]:
    model_schema = schema.json_schema()
    defs = model_schema.get("$defs", {})
    required = set(model_schema.get("required", []))
    out = []
    for name, prop in model_schema.get("properties", {}).items():
        info = inline_refs(prop, defs)
        if not isinstance(info, dict):
            continue
        if "credentials_provider" not in info and not is_credentials_name(name):
            continue
        mapping = info.get("discriminator_mapping")
        discriminator = info.get("discriminator")
        discriminator = discriminator if isinstance(discriminator, str) else None
        default = model_schema["properties"].get(discriminator, {}) if discriminator else {}
        out.append(
            CredentialsField(
                name=name,
                providers=tuple(
                    normalize_provider(p) for p in _strings(info.get("credentials_provider"))
                ),
                types=_strings(info.get("credentials_types")),
                scopes=_strings(info.get("credentials_scopes")),
                required=name in required,
                discriminator=discriminator,
                mapping=dict(mapping) if isinstance(mapping, dict) else {},
                discriminator_default=default.get("default") if isinstance(default, dict) else None,
            )
        )
    return tuple(out)


def credentials_fields(block: Block[Any]) -> tuple[CredentialsField, ...]:
    """The credentials inputs of ``block`` (computed once per input schema)."""
    return _schema_fields(block.input_schema)


def parse_ref(value: Any) -> CredentialsRef | None:
    """A credentials reference from a pin value, or None when it is not one."""
    if isinstance(value, CredentialsRef):
        return value
    if not isinstance(value, Mapping) or not value.get("id"):
        return None
    data = dict(value)
    data["provider"] = normalize_provider(str(data.get("provider", "")))
    try:
        return CredentialsRef.model_validate(data)
    except PydanticValidationError:
        return None


def graph_nodes(graph: Graph) -> Iterator[tuple[Graph, Node]]:
    """Every node of the graph and of its sub-graphs, with the graph it belongs to."""
    for g in (graph, *graph.sub_graphs):
        for node in g.nodes:
            yield g, node


def linked_pins(graph: Graph) -> set[tuple[str, str]]:
    """``(node id, pin)`` of every input pin a link feeds (its value arrives at run time)."""
    return {(lk.sink_id, lk.sink_name) for g in (graph, *graph.sub_graphs) for lk in g.links}


def _match(spec: CredentialsField, node: Node, credentials_inputs: Mapping[str, Any]) -> Any | None:
    if spec.key in credentials_inputs:
        return credentials_inputs[spec.key]
    for key in sorted(credentials_inputs):
        ref = parse_ref(credentials_inputs[key])
        if ref is not None and spec.accepts(ref.provider, ref.type.value, node.input_default):
            return credentials_inputs[key]
    return None


def node_credentials_map(
    graph: Graph, credentials_inputs: Mapping[str, Any], blocks: Any
) -> dict[str, dict[str, Any]]:
    """node id -> {credentials field -> the run's reference for it}, for every node it fills.

    The executor merges these into the nodes' inputs (they win over ``input_default``),
    as AutoGPT's ``nodes_input_masks`` do. ``blocks`` is the block registry (``get``).
    """
    out: dict[str, dict[str, Any]] = {}
    if not credentials_inputs:
        return out
    for _, node in graph_nodes(graph):
        block = blocks.get(node.block_id)
        if block is None:
            continue
        for spec in credentials_fields(block):
            value = _match(spec, node, credentials_inputs)
            if value is not None:
                out.setdefault(node.id, {})[spec.name] = value
    return out
