"""Request and response models of the graph and block routes, as OpenAPI documents them.

They are deliberately permissive (unknown fields pass through) because graph documents
carry block-specific inputs and AutoGPT's computed fields, which the graph layer validates.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from autoplat.api.validation import NOT_BLANK


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


#: What the importer reads first (graphs/importer.py): a name with some non-space character
#: and an array of nodes, each an object with a non-empty ``block_id``. The rest (known
#: blocks, pins, links) stays beyond any schema (``x-validates-beyond-schema``).
_GRAPH_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "nodes"],
    "properties": {
        "name": {"type": "string", "pattern": NOT_BLANK},
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["block_id"],
                "properties": {"block_id": {"type": "string", "minLength": 1}},
            },
        },
    },
}


def _either_shape(schema: dict[str, Any]) -> None:
    # The importer reads ``graph`` as the graph only when the body has no ``nodes`` of its
    # own (graphs/importer.py _unwrap); otherwise the body itself is the graph.
    schema["anyOf"] = [
        {
            "required": ["graph"],
            "not": {"required": ["nodes"]},
            "properties": {"graph": _GRAPH_SHAPE},
        },
        _GRAPH_SHAPE,
    ]


class GraphDocument(_Open):
    """``{"graph": <AutoGPT graph>, "source": "upload"|"builder"|null}`` or a bare graph."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_either_shape)

    # Absent means "the body is a bare graph"; when present it is an object, never null.
    graph: dict[str, Any] = Field(
        default_factory=dict, description="The graph (nodes, links, sub_graphs, ...)."
    )
    source: str | None = Field(default=None, description="Where the graph comes from.")


class LinkOut(_Open):
    """A link from an output pin (selector) to an input pin."""

    id: str
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool = False


class NodeOut(_Open):
    """A node: a block with constant inputs and UI metadata."""

    id: str
    block_id: str
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class GraphMetaOut(_Open):
    """A graph version's fields and computed I/O schemas (list entries omit nodes/links)."""

    id: str
    version: int
    is_active: bool
    name: str
    description: str = ""
    instructions: str | None = None
    recommended_schedule_cron: str | None = None
    forked_from_id: str | None = None
    forked_from_version: int | None = None
    user_id: str = ""
    created_at: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] = Field(default_factory=dict)
    has_external_trigger: bool = False
    has_human_in_the_loop: bool = False
    has_sensitive_action: bool = False
    trigger_setup_info: dict[str, Any] | None = None


class GraphOut(GraphMetaOut):
    """A whole graph version. With ``for_export=true`` it is AutoGPT's export format:
    ``user_id`` blank, secrets stripped, ``sub_graphs`` and per-node links included."""

    nodes: list[NodeOut] = Field(default_factory=list)
    links: list[LinkOut] = Field(default_factory=list)
    credentials_input_schema: dict[str, Any] = Field(default_factory=dict)


class DeletedGraphOut(BaseModel):
    """How many versions a delete removed."""

    version_counts: int


class ActiveVersionOut(BaseModel):
    """The version now active."""

    id: str
    active_graph_version: int


class BlockCostOut(_Open):
    """One price of a block."""

    cost_amount: int
    cost_type: str
    cost_filter: dict[str, Any] = Field(default_factory=dict)


class BlockOut(_Open):
    """A block as ``GET /api/blocks`` lists it (AutoGPT's camelCase field names)."""

    id: str
    name: str
    description: str = ""
    categories: list[dict[str, Any]] = Field(default_factory=list)
    inputSchema: dict[str, Any]
    outputSchema: dict[str, Any]
    staticOutput: bool = False
    uiType: str
    costs: list[BlockCostOut] = Field(default_factory=list)
    disabled: bool = False


class BlockInputs(RootModel[dict[str, Any]]):
    """The body of ``POST /api/blocks/{id}/execute``: the block's inputs by pin name."""


#: ``POST /api/blocks/{id}/execute`` answers ``{pin: [values in output order]}``.
BlockOutputs = dict[str, list[Any]]
