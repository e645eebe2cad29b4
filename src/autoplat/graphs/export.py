"""The AutoGPT export format of a graph (``GET /api/graphs/{id}/versions/{v}?for_export=true``).

The result is what AutoGPT's frontend saves as ``<name>_v<version>.json`` (blocks.md §6):
the graph with its nodes, links and sub-graphs plus the computed fields, with ``user_id``
blanked and secrets removed from node inputs.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, Final

from autoplat.blocks.base import Block, BlockType
from autoplat.graphs.catalog import BlockLookup, block_type_of, json_schema_of
from autoplat.graphs.model import Graph, Node
from autoplat.graphs.pins import sanitize_pin_name
from autoplat.graphs.schema import credentials_input_schema, graph_input_schema, graph_output_schema
from autoplat.integrations.model import is_credentials_key, reference_only

# Input keys whose names contain these are removed on export unless their value is a boolean.
SENSITIVE_NAME_PARTS: Final = ("credentials", "api_key", "password", "token", "secret")
_TRIGGER_TYPES: Final = frozenset({BlockType.WEBHOOK, BlockType.WEBHOOK_MANUAL})
_HUMAN_IN_THE_LOOP: Final = "Human In The Loop"


def _is_sensitive(key: str, value: Any) -> bool:
    lowered = key.lower()
    return not isinstance(value, bool) and any(part in lowered for part in SENSITIVE_NAME_PARTS)


def strip_sensitive(value: Any) -> Any:
    """A copy of ``value`` without keys whose names look like secrets, at any depth.

    A credentials input keeps its reference (id, provider, type, title): an exported agent
    says which credential it needs, never what the secret is.
    """
    if isinstance(value, dict):
        kept: dict[Any, Any] = {}
        for k, v in value.items():
            reference = reference_only(v) if is_credentials_key(k) else None
            if reference is not None:
                kept[k] = reference
            elif not (isinstance(k, str) and _is_sensitive(k, v)):
                kept[k] = strip_sensitive(v)
        return kept
    if isinstance(value, list):
        return [strip_sensitive(item) for item in value]
    return value


def _secret_pins(block: Block[Any] | None) -> set[str]:
    if block is None:
        return set()
    props = json_schema_of(block.input_schema).get("properties", {})
    return {name for name, prop in props.items() if isinstance(prop, dict) and prop.get("secret")}


def export_input_default(node: Node, blocks: BlockLookup) -> dict[str, Any]:
    """The node's constant inputs as exported: secret pins and secret-looking keys removed,
    and an INPUT node marked ``secret`` loses its value."""
    block = blocks.get(node.block_id)
    secret = _secret_pins(block)
    # An empty secret pin hides nothing; AutoGPT's exports keep it (Medium's author_id).
    data = {
        k: v
        for k, v in node.input_default.items()
        if sanitize_pin_name(k) not in secret or v in ("", None)
    }
    if block_type_of(node, blocks) == BlockType.INPUT and data.get("secret") is True:
        data.pop("value", None)
    stripped: dict[str, Any] = strip_sensitive(data)
    return stripped


def _node_dict(graph: Graph, node: Node, blocks: BlockLookup, *, top: bool) -> dict[str, Any]:
    links = [link.model_dump(mode="json") for link in graph.links]
    data: dict[str, Any] = {
        "id": node.id,
        "block_id": node.block_id,
        "input_default": export_input_default(node, blocks),
        "metadata": node.metadata,
        "input_links": [lk for lk in links if lk["sink_id"] == node.id],
        "output_links": [lk for lk in links if lk["source_id"] == node.id],
    }
    if top:
        data.update(graph_id=graph.id, graph_version=graph.version, webhook_id=None)
    return data


def _blocks_of(graph: Graph, blocks: BlockLookup) -> list[Block[Any]]:
    found = (blocks.get(node.block_id) for node in graph.nodes)
    return [block for block in found if block is not None]


def computed_fields(graph: Graph, blocks: BlockLookup) -> dict[str, Any]:
    """The derived fields AutoGPT adds to a graph: I/O schemas and trigger/safety flags.

    ``trigger_setup_info`` is always null: autoplat has no webhook-triggered blocks yet.
    """
    used = _blocks_of(graph, blocks)
    kinds = {block_type_of(node, blocks) for node in graph.nodes}
    return {
        "input_schema": graph_input_schema(graph, blocks),
        "output_schema": graph_output_schema(graph, blocks),
        "has_external_trigger": bool(kinds & _TRIGGER_TYPES),
        "has_human_in_the_loop": any(b.block_type.value == _HUMAN_IN_THE_LOOP for b in used),
        "has_sensitive_action": any(getattr(b, "is_sensitive_action", False) for b in used),
        "trigger_setup_info": None,
    }


def _graph_dict(graph: Graph, blocks: BlockLookup, *, top: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": graph.id,
        "version": graph.version,
        "is_active": graph.is_active,
        "name": graph.name,
        "description": graph.description,
        "instructions": graph.instructions,
        "recommended_schedule_cron": graph.recommended_schedule_cron,
        "forked_from_id": graph.forked_from_id,
        "forked_from_version": graph.forked_from_version,
    }
    if top:
        created = graph.created_at
        if created is not None and created.tzinfo is not None:
            created = created.astimezone(UTC)
        stamp = created.isoformat().replace("+00:00", "Z") if created is not None else None
        data.update(user_id="", created_at=stamp)
    data["nodes"] = [_node_dict(graph, node, blocks, top=top) for node in graph.nodes]
    data["links"] = [link.model_dump(mode="json") for link in graph.links]
    if top:
        data["sub_graphs"] = [_graph_dict(sub, blocks, top=False) for sub in graph.sub_graphs]
    data.update(computed_fields(graph, blocks))
    if top:
        data["credentials_input_schema"] = credentials_input_schema(graph, blocks)
    return data


def export_graph(graph: Graph, blocks: BlockLookup) -> dict[str, Any]:
    """The graph as an AutoGPT export (JSON-ready dict), readable by ``parse_agent_export``.

    ``graph.sub_graphs`` must already hold every graph its AgentExecutorBlock nodes reference
    (recursively, flattened): the persistence layer loads them. Sub-graph entries have the
    same shape minus ``user_id``, ``created_at``, ``sub_graphs``, ``credentials_input_schema``
    and the per-node ``graph_id``/``graph_version``/``webhook_id``, as in AutoGPT's exports.
    """
    return _graph_dict(graph, blocks, top=True)
