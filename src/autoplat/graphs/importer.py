"""Reading AutoGPT agent JSON (current and older exports, legacy templates) into a Graph.

:func:`parse_agent_export` checks the shape and builds the model; it never crashes on bad
input but raises :class:`~autoplat.errors.ValidationFailed` with ``{"field", "message"}``
details. :func:`reassign_ids` then gives the graph fresh ids for one importing user. Block
existence and pins are checked later by :mod:`autoplat.graphs.validation`.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError as PydanticValidationError

from autoplat.errors import ValidationFailed
from autoplat.graphs import catalog
from autoplat.graphs.catalog import BlockLookup
from autoplat.graphs.legacy import rename_legacy_pins
from autoplat.graphs.model import Graph, Link, Node, new_id
from autoplat.graphs.subgraphs import reassign_ids
from autoplat.graphs.validation import validate_graph
from autoplat.integrations.model import is_credentials_key, reference_only

__all__ = [
    "LEGACY_BLOCK_IDS",
    "import_graph",
    "parse_agent_export",
    "reassign_ids",
    "strip_credentials",
]

# Block ids renamed upstream; AutoGPT's frontend importer rewrites them (blocks.md §6).
LEGACY_BLOCK_IDS: Final = {
    "a1b2c3d4-5e6f-7g8h-9i0j-k1l2m3n4o5p6": "436c3984-57fd-4b85-8e9a-459b356883bd",
    "b2g2c3d4-5e6f-7g8h-9i0j-k1l2m3n4o5p6": "0e50422c-6dee-4145-83d6-3a5a392f65de",
    "c3d4e5f6-7g8h-9i0j-1k2l-m3n4o5p6q7r8": "a0a69be1-4528-491c-a85a-a4ab6873e3f0",
    "c3d4e5f6-g7h8-i9j0-k1l2-m3n4o5p6q7r8": "32a87eab-381e-4dd4-bdb8-4c47151be35a",
    "b2c3d4e5-6f7g-8h9i-0j1k-l2m3n4o5p6q7": "87840993-2053-44b7-8da4-187ad4ee518c",
    "h1i2j3k4-5l6m-7n8o-9p0q-r1s2t3u4v5w6": "d0822ab5-9f8a-44a3-8971-531dd0178b6b",
    "d3f4g5h6-1i2j-3k4l-5m6n-7o8p9q0r1s2t": "df06086a-d5ac-4abb-9996-2ad0acb2eff7",
    "h5e7f8g9-1b2c-3d4e-5f6g-7h8i9j0k1l2m": "f5b0f5d0-1862-4d61-94be-3ad0fa772760",
    "a1234567-89ab-cdef-0123-456789abcdef": "4335878a-394e-4e67-adf2-919877ff49ae",
    "f8e7d6c5-b4a3-2c1d-0e9f-8g7h6i5j4k3l": "f66a3543-28d3-4ab5-8945-9b336371e2ce",
    "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0h2": "716a67b3-6760-42e7-86dc-18645c6e00fc",
    "31d1064e-7446-4693-o7d4-65e5ca9110d1": "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc",
    "c6731acb-4105-4zp1-bc9b-03d0036h370g": "5ebe6768-8e5d-41e3-9134-1c7bd89a8d52",
}

Details = list[dict[str, Any]]
_MISSING: Final = object()


def strip_credentials(value: Any) -> Any:
    """A copy of ``value`` whose credentials inputs keep only their references.

    At any depth, a ``credentials`` / ``*_credentials`` key keeps the reference it holds
    (id, provider, type, title: the user picks or re-links the credential) and loses
    anything else (an inline key, a token); a value that is no reference is dropped.
    """
    if isinstance(value, dict):
        kept: dict[Any, Any] = {}
        for key, item in value.items():
            if is_credentials_key(key):
                reference = reference_only(item)
                if reference is not None:
                    kept[key] = reference
                continue
            kept[key] = strip_credentials(item)
        return kept
    if isinstance(value, list):
        return [strip_credentials(item) for item in value]
    return value


class _Reader:
    """Collects shape errors while reading one JSON object at ``path``."""

    def __init__(self, errors: Details, path: str) -> None:
        self.errors = errors
        self.path = path

    def at(self, key: str) -> str:
        """The path of a field of this object."""
        return f"{self.path}.{key}" if self.path else key

    def child(self, key: str, index: int) -> _Reader:
        """A reader for item ``index`` of the array field ``key``."""
        return _Reader(self.errors, f"{self.at(key)}[{index}]")

    def fail(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def get(self, obj: dict[str, Any], key: str, kind: type, default: Any) -> Any:
        """``obj[key]`` if it has type ``kind``; ``default`` when absent or null; else an error.

        A ``default`` of ``_MISSING`` makes the field required (None is returned on error).
        """
        value = obj.get(key)
        fallback = None if default is _MISSING else default
        if value is None:
            if default is _MISSING:
                self.fail(self.at(key), "field required")
            return fallback
        # bool is an int in Python, but never a valid version
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            self.fail(self.at(key), f"must be {_KIND_NAMES.get(kind, kind.__name__)}")
            return fallback
        return value


_KIND_NAMES: Final[dict[type, str]] = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


def _parse_link(raw: Any, reader: _Reader) -> Link | None:
    if not isinstance(raw, dict):
        reader.fail(reader.path, "must be an object")
        return None
    fields = {k: reader.get(raw, k, str, _MISSING) for k in _LINK_ENDS}
    link_id = reader.get(raw, "id", str, None) or new_id()
    is_static = reader.get(raw, "is_static", bool, False)
    if any(v is None for v in fields.values()):
        return None
    return Link(id=link_id, is_static=is_static, **fields)


_LINK_ENDS: Final = ("source_id", "sink_id", "source_name", "sink_name")


def _parse_node(raw: Any, reader: _Reader) -> Node | None:
    if not isinstance(raw, dict):
        reader.fail(reader.path, "must be an object")
        return None
    block_id = reader.get(raw, "block_id", str, _MISSING)
    node_id = reader.get(raw, "id", str, None) or new_id()
    input_default = dict(reader.get(raw, "input_default", dict, {}))
    metadata = dict(reader.get(raw, "metadata", dict, {}))
    if not block_id:
        if block_id == "":
            reader.fail(reader.at("block_id"), "must not be empty")
        return None
    block_id = LEGACY_BLOCK_IDS.get(block_id, block_id)
    # The dropdown input renamed placeholder_values to options (blocks.md §3.2); the base
    # input block simply ignores the legacy key, so it is left alone there.
    if block_id == catalog.DROPDOWN_INPUT and "placeholder_values" in input_default:
        legacy = input_default.pop("placeholder_values")
        input_default.setdefault("options", legacy)
    return Node(id=node_id, block_id=block_id, input_default=input_default, metadata=metadata)


def _node_links(nodes: list[Any]) -> list[Any]:
    """Links gathered from nodes' redundant ``input_links``/``output_links``, de-duplicated."""
    seen: dict[Any, Any] = {}
    for node in nodes:
        if not isinstance(node, dict):
            continue
        for key in ("input_links", "output_links"):
            for link in node.get(key) or []:
                if isinstance(link, dict):
                    # A link appears on both of its nodes; without an id, its endpoints
                    # are what identify it.
                    identity: Any = link.get("id") or tuple(
                        str(link.get(f))
                        for f in ("source_id", "source_name", "sink_id", "sink_name")
                    )
                    seen.setdefault(identity, link)
    return list(seen.values())


def _parse_list(obj: dict[str, Any], key: str, reader: _Reader, required: bool) -> list[Any]:
    return list(reader.get(obj, key, list, _MISSING if required else []) or [])


def _parse_graph(raw: Any, reader: _Reader, sub_graphs: list[Graph] | None) -> Graph | None:
    """Read one graph; its (recursively nested) sub-graphs are appended to ``sub_graphs``."""
    if not isinstance(raw, dict):
        reader.fail(reader.path or "graph", "must be an object")
        return None
    errors_before = len(reader.errors)
    name = reader.get(raw, "name", str, _MISSING)
    if name is not None and not name.strip():
        reader.fail(reader.at("name"), "must not be empty")
    nodes_raw = _parse_list(raw, "nodes", reader, required=True)
    links_raw = _parse_list(raw, "links", reader, required=False)
    if "links" not in raw:
        links_raw = _node_links(nodes_raw)
    nodes = [_parse_node(n, reader.child("nodes", i)) for i, n in enumerate(nodes_raw)]
    links = [_parse_link(lk, reader.child("links", i)) for i, lk in enumerate(links_raw)]
    fields = {
        "id": reader.get(raw, "id", str, None) or new_id(),
        "version": reader.get(raw, "version", int, 1),
        "is_active": reader.get(raw, "is_active", bool, True),
        "description": reader.get(raw, "description", str, ""),
        "instructions": reader.get(raw, "instructions", str, None),
        "recommended_schedule_cron": reader.get(raw, "recommended_schedule_cron", str, None),
        "forked_from_id": reader.get(raw, "forked_from_id", str, None),
        "forked_from_version": reader.get(raw, "forked_from_version", int, None),
    }
    if sub_graphs is not None:
        for i, sub in enumerate(_parse_list(raw, "sub_graphs", reader, required=False)):
            parsed = _parse_graph(sub, reader.child("sub_graphs", i), sub_graphs)
            if parsed is not None:
                sub_graphs.append(parsed)
    if len(reader.errors) > errors_before:
        return None
    # Without shape errors every node and link was read (none is None).
    current = rename_legacy_pins(
        [n for n in nodes if n is not None], [lk for lk in links if lk is not None]
    )
    return _build(reader, name=name, nodes=current[0], links=current[1], **fields)


def _build(reader: _Reader, **fields: Any) -> Graph | None:
    try:
        return Graph.model_validate(fields)
    except PydanticValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            reader.fail(reader.at(field) if field else reader.path or "graph", err["msg"])
        return None


def _unwrap(data: Any) -> tuple[Any, str]:
    """The graph object and its path: a request body ``{"graph": {...}, "source": ...}``
    or a bare exported graph."""
    if isinstance(data, dict) and "graph" in data and "nodes" not in data:
        return data["graph"], "graph"
    return data, ""


def parse_agent_export(data: Any) -> Graph:
    """Build a Graph from exported AutoGPT JSON or a create-graph request body.

    Accepts the current export, older exports (``has_webhook_trigger``), legacy templates
    (``is_template``, bare nodes) and ``{"graph": ..., "source": ...}`` bodies. Computed
    fields, ``user_id``, ``created_at`` and node ``input_links``/``output_links`` are ignored
    (links come from the top-level ``links``, or from the nodes when that is absent). Every
    ``credentials`` key is removed at any depth, legacy block ids are mapped to current ones,
    legacy pin names to current ones (:mod:`autoplat.graphs.legacy`: a wired bot token is
    dropped), and a dropdown input's ``placeholder_values`` becomes ``options``. Sub-graphs
    nested in sub-graphs are flattened into ``sub_graphs``. Ids are kept: call :func:`reassign_ids`.

    Raises ValidationFailed (422) with ``{"field": "nodes[2].block_id", "message": ...}``
    details (paths prefixed with ``graph.`` for request bodies) when the shape is wrong.
    """
    raw, path = _unwrap(data)
    errors: Details = []
    sub_graphs: list[Graph] = []
    graph = _parse_graph(strip_credentials(raw), _Reader(errors, path), sub_graphs)
    if graph is None or errors:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(f"invalid graph JSON: {summary}", details=errors)
    graph.sub_graphs = sub_graphs
    return graph


def import_graph(data: Any, user_id: str, blocks: BlockLookup) -> Graph:
    """Parse, re-id and validate a graph for ``user_id``: what ``POST /api/graphs`` stores.

    Raises ValidationFailed for a bad shape (``field`` details) or an invalid graph (per-node
    details, one ``Invalid block <id> for node #<node>`` entry per missing block). References
    to graphs outside the export (:func:`~autoplat.graphs.subgraphs.external_subgraph_refs`)
    are left for the caller to check against stored graphs.
    """
    return validate_graph(reassign_ids(parse_agent_export(data), user_id), blocks)
