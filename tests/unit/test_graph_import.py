"""Reading AutoGPT agent JSON into graphs, and giving imported graphs fresh ids."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from autoplat.blocks.registry import BlockRegistry
from autoplat.errors import ValidationFailed
from autoplat.graphs import catalog
from autoplat.graphs.importer import (
    LEGACY_BLOCK_IDS,
    import_graph,
    parse_agent_export,
    reassign_ids,
)
from autoplat.graphs.model import Graph, Link, Node
from autoplat.graphs.subgraphs import external_subgraph_refs, resolve_subgraph

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
needs_agents = pytest.mark.skipif(not AGENTS.is_dir(), reason=f"{AGENTS} is absent")

# file -> (nodes incl. sub-graphs, links incl. sub-graphs, sub-graphs) once parsed, from
# agents/INDEX.md
AGENT_FILES = {
    "calculator-agent.json": (3, 2, 0),
    "frontend_testing_agent.json": (1, 0, 0),
    "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json": (5, 4, 0),
    "agent_31daf49d-31d3-476b-aa4c-099abc59b458.json": (7, 9, 0),
    "agent_f2cc74bb-f43f-4395-9c35-ecb30b5b4fc9.json": (6, 6, 0),
    "agent_fc2c9976-0962-4625-a27b-d316573a9e7f.json": (8, 9, 0),
    "agent_d85882b8-633f-44ce-a315-c20a8c123d19.json": (5, 3, 0),
    "agent_e437cc95-e671-489d-b915-76561fba8c7f.json": (14, 19, 0),
    "agent_e7bb29a1-23c7-4fee-aa3b-5426174b8c52.json": (13, 15, 0),
    "agent_c775f60d-b99f-418b-8fe0-53172258c3ce.json": (16, 17, 0),
    "agent_a548e507-09a7-4b30-909c-f63fcda10fff.json": (34, 39, 0),
    "agent_b6f6f0d3-49f4-4e3b-8155-ffe9141b32c0.json": (23, 39, 0),
    "agent_6e16e65a-ad34-4108-b4fd-4a23fced5ea2.json": (24, 28, 2),
    # 11 in the file; the two wiring the bot token (a credential now) are dropped on import.
    "graph_template_Discord_Bot_Chat_To_LLM_v5.json": (8, 9, 0),
    "graph_template_Medium_Blogger_v28.json": (5, 5, 0),
}
DECISION_MAKER = "agent_6e16e65a-ad34-4108-b4fd-4a23fced5ea2.json"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((AGENTS / name).read_text())
    return data


def all_graphs(graph: Graph) -> list[Graph]:
    return [graph, *graph.sub_graphs]


def input_node(block_id: str = catalog.AGENT_INPUT, **input_default: Any) -> dict[str, Any]:
    return {"id": "in", "block_id": block_id, "input_default": input_default}


def bare(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "g", "description": "", "nodes": list(nodes), "links": [], **extra}


# --- the real exports ------------------------------------------------------------------


@needs_agents
def test_index_lists_every_agent_file() -> None:
    assert {p.name for p in AGENTS.glob("*.json")} == set(AGENT_FILES)


@needs_agents
@pytest.mark.parametrize("name", sorted(AGENT_FILES))
def test_every_agent_file_parses(name: str) -> None:
    data = load(name)
    graph = parse_agent_export(data)
    nodes, links, subs = AGENT_FILES[name]
    assert sum(len(g.nodes) for g in all_graphs(graph)) == nodes
    assert sum(len(g.links) for g in all_graphs(graph)) == links
    assert len(graph.sub_graphs) == subs
    assert (graph.id, graph.version, graph.name) == (data["id"], data["version"], data["name"])
    assert [n.id for n in graph.nodes] == [n["id"] for n in data["nodes"]]
    assert graph.user_id == ""
    assert graph.created_at is None


@needs_agents
@pytest.mark.parametrize("name", sorted(AGENT_FILES))
def test_request_body_form_parses_the_same(name: str) -> None:
    data = load(name)
    assert parse_agent_export({"graph": data, "source": "upload"}) == parse_agent_export(data)


@needs_agents
def test_legacy_template_keeps_flags_and_defaults_is_static() -> None:
    graph = parse_agent_export(load("graph_template_Medium_Blogger_v28.json"))
    assert graph.is_active is False
    assert graph.version == 28
    assert all(link.is_static is False for link in graph.links)
    assert graph.nodes[1].input_default["tags"] == ["AI", "LLM"]


@needs_agents
def test_older_export_with_has_webhook_trigger() -> None:
    graph = parse_agent_export(load("frontend_testing_agent.json"))
    assert graph.name == "Testing agent"
    assert graph.nodes[0].input_default == {"round_result": False}


@needs_agents
def test_input_does_not_change() -> None:
    data = load(DECISION_MAKER)
    before = copy.deepcopy(data)
    reassign_ids(parse_agent_export(data), "user-1")
    assert data == before


@needs_agents
def test_base_input_block_keeps_legacy_placeholder_values() -> None:
    graph = parse_agent_export(load("agent_e437cc95-e671-489d-b915-76561fba8c7f.json"))
    tone = next(n for n in graph.nodes if n.input_default.get("name") == "Blog Tone")
    assert tone.block_id == catalog.AGENT_INPUT
    assert tone.input_default["placeholder_values"][0] == "Professional"
    assert "options" not in tone.input_default


# --- normalisation ---------------------------------------------------------------------


def test_credentials_inputs_keep_only_their_references_at_any_depth() -> None:
    reference = {"id": "c1", "provider": "openai", "type": "api_key", "title": "mine"}
    node = {
        "id": "n",
        "block_id": "b",
        "input_default": {
            "credentials": {**reference, "api_key": "sk-inline-secret"},
            "keep": 1,
            "nested": {"credentials": 2, "rows": [{"credentials": 3, "y": 4}]},
            "my_credentials": "not a reference: dropped",
            "search_credentials": {"id": "c2", "provider": "jina", "type": "api_key"},
        },
        "metadata": {"credentials": "x", "position": {"x": 1}},
    }
    graph = parse_agent_export(bare(node))
    assert graph.nodes[0].input_default == {
        "credentials": reference,
        "keep": 1,
        "nested": {"rows": [{"y": 4}]},
        "search_credentials": {"id": "c2", "provider": "jina", "type": "api_key"},
    }
    assert graph.nodes[0].metadata == {"position": {"x": 1}}


@pytest.mark.parametrize(("old", "new"), sorted(LEGACY_BLOCK_IDS.items()))
def test_legacy_block_ids_are_mapped(old: str, new: str) -> None:
    graph = parse_agent_export(bare({"id": "n", "block_id": old}))
    assert graph.nodes[0].block_id == new


def test_legacy_map_covers_named_blocks() -> None:
    assert LEGACY_BLOCK_IDS["b2g2c3d4-5e6f-7g8h-9i0j-k1l2m3n4o5p6"] == (
        "0e50422c-6dee-4145-83d6-3a5a392f65de"
    )
    assert LEGACY_BLOCK_IDS["31d1064e-7446-4693-o7d4-65e5ca9110d1"] == catalog.NOTE
    assert len(LEGACY_BLOCK_IDS) == 13


@pytest.mark.parametrize(
    ("input_default", "expected"),
    [
        ({"name": "x", "placeholder_values": ["a", "b"]}, {"name": "x", "options": ["a", "b"]}),
        ({"name": "x", "placeholder_values": []}, {"name": "x", "options": []}),
        (
            {"name": "x", "options": ["keep"], "placeholder_values": ["drop"]},
            {"name": "x", "options": ["keep"]},
        ),
        ({"name": "x", "options": ["a"]}, {"name": "x", "options": ["a"]}),
    ],
)
def test_dropdown_placeholder_values_become_options(
    input_default: dict[str, Any], expected: dict[str, Any]
) -> None:
    graph = parse_agent_export(bare(input_node(catalog.DROPDOWN_INPUT, **input_default)))
    assert graph.nodes[0].input_default == expected


def test_other_input_blocks_keep_placeholder_values() -> None:
    node = input_node(catalog.SHORT_TEXT_INPUT, name="x", placeholder_values=["a"])
    graph = parse_agent_export(bare(node))
    assert graph.nodes[0].input_default == {"name": "x", "placeholder_values": ["a"]}


def test_computed_and_unknown_fields_are_ignored() -> None:
    data = bare(
        {"id": "n", "block_id": "b", "webhook": None, "webhook_id": "w", "graph_id": "zz"},
        input_schema="not even a schema",
        output_schema=None,
        has_webhook_trigger=True,
        has_external_trigger=True,
        credentials_input_schema=[],
        trigger_setup_info={"x": 1},
        is_template=True,
        user_id="someone",
        created_at="garbage",
        whatever={"a": 1},
    )
    graph = parse_agent_export(data)
    assert graph.user_id == ""
    assert graph.created_at is None
    assert graph.nodes[0] == Node(id="n", block_id="b")


def test_missing_ids_are_generated_and_defaults_apply() -> None:
    graph = parse_agent_export({"name": "g", "nodes": [{"block_id": "b"}]})
    assert len(graph.id) == 36
    assert len(graph.nodes[0].id) == 36
    assert (graph.version, graph.is_active, graph.description, graph.links) == (1, True, "", [])


def test_nulls_count_as_absent() -> None:
    graph = parse_agent_export(
        {
            "name": "g",
            "description": None,
            "nodes": [{"block_id": "b", "input_default": None, "metadata": None}],
            "links": None,
            "sub_graphs": None,
            "version": None,
        }
    )
    assert graph.description == ""
    assert graph.nodes[0].input_default == {}
    assert graph.version == 1


def test_links_missing_at_top_level_are_gathered_from_nodes() -> None:
    link = {"id": "l1", "source_id": "a", "sink_id": "b", "source_name": "o", "sink_name": "i"}
    nodes = [
        {"id": "a", "block_id": "x", "output_links": [link]},
        {"id": "b", "block_id": "x", "input_links": [dict(link)]},
    ]
    graph = parse_agent_export({"name": "g", "nodes": nodes})
    assert graph.links == [Link(**link)]


def test_top_level_links_win_over_node_links() -> None:
    link = {"id": "l1", "source_id": "a", "sink_id": "b", "source_name": "o", "sink_name": "i"}
    nodes = [{"id": "a", "block_id": "x", "output_links": [link]}, {"id": "b", "block_id": "x"}]
    graph = parse_agent_export({"name": "g", "nodes": nodes, "links": []})
    assert graph.links == []


def test_nested_sub_graphs_are_flattened() -> None:
    inner = bare({"id": "n3", "block_id": "b"}, id="inner", name="inner")
    middle = bare({"id": "n2", "block_id": "b"}, id="middle", name="middle", sub_graphs=[inner])
    graph = parse_agent_export(bare({"id": "n1", "block_id": "b"}, sub_graphs=[middle]))
    assert [g.id for g in graph.sub_graphs] == ["inner", "middle"]
    assert all(g.sub_graphs == [] for g in graph.sub_graphs)


# --- shape errors ----------------------------------------------------------------------

SHAPE_ERRORS: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("not an object", [1, 2], [("graph", "must be an object")]),
    ("null body", None, [("graph", "must be an object")]),
    ("string body", "graph", [("graph", "must be an object")]),
    ("empty object", {}, [("name", "field required"), ("nodes", "field required")]),
    ("missing name", {"nodes": []}, [("name", "field required")]),
    ("blank name", {"name": "  ", "nodes": []}, [("name", "must not be empty")]),
    ("name not a string", {"name": 5, "nodes": []}, [("name", "must be a string")]),
    ("missing nodes", {"name": "g"}, [("nodes", "field required")]),
    ("nodes not a list", {"name": "g", "nodes": {}}, [("nodes", "must be an array")]),
    ("node not an object", {"name": "g", "nodes": [3]}, [("nodes[0]", "must be an object")]),
    ("node without block", {"name": "g", "nodes": [{}]}, [("nodes[0].block_id", "field required")]),
    (
        "block id not a string",
        {"name": "g", "nodes": [{"block_id": 7}]},
        [("nodes[0].block_id", "must be a string")],
    ),
    (
        "empty block id",
        {"name": "g", "nodes": [{"block_id": ""}]},
        [("nodes[0].block_id", "must not be empty")],
    ),
    (
        "input_default not an object",
        {"name": "g", "nodes": [{"block_id": "b", "input_default": [1]}]},
        [("nodes[0].input_default", "must be an object")],
    ),
    (
        "node id not a string",
        {"name": "g", "nodes": [{"block_id": "b", "id": 3}]},
        [("nodes[0].id", "must be a string")],
    ),
    ("links not a list", {"name": "g", "nodes": [], "links": "x"}, [("links", "must be an array")]),
    (
        "link missing ends",
        {"name": "g", "nodes": [], "links": [{"source_id": "a", "sink_id": 1}]},
        [
            ("links[0].sink_id", "must be a string"),
            ("links[0].source_name", "field required"),
            ("links[0].sink_name", "field required"),
        ],
    ),
    (
        "is_static not a boolean",
        {
            "name": "g",
            "nodes": [],
            "links": [
                {"source_id": "a", "sink_id": "b", "source_name": "o", "sink_name": "i"}
                | {"is_static": "yes"}
            ],
        },
        [("links[0].is_static", "must be a boolean")],
    ),
    (
        "version a string",
        {"name": "g", "nodes": [], "version": "2"},
        [("version", "must be an integer")],
    ),
    (
        "version a boolean",
        {"name": "g", "nodes": [], "version": True},
        [("version", "must be an integer")],
    ),
    (
        "version zero",
        {"name": "g", "nodes": [], "version": 0},
        [("version", "Input should be greater than or equal to 1")],
    ),
    (
        "is_active a string",
        {"name": "g", "nodes": [], "is_active": "y"},
        [("is_active", "must be a boolean")],
    ),
    (
        "description a number",
        {"name": "g", "nodes": [], "description": 1},
        [("description", "must be a string")],
    ),
    (
        "name too long",
        {"name": "x" * 501, "nodes": []},
        [("name", "String should have at most 500 characters")],
    ),
    (
        "bad sub-graph",
        {"name": "g", "nodes": [], "sub_graphs": [{"name": "s", "nodes": [{"id": "n"}]}]},
        [("sub_graphs[0].nodes[0].block_id", "field required")],
    ),
    (
        "sub-graphs not a list",
        {"name": "g", "nodes": [], "sub_graphs": {}},
        [("sub_graphs", "must be an array")],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [case[1:] for case in SHAPE_ERRORS],
    ids=[case[0] for case in SHAPE_ERRORS],
)
def test_shape_errors(data: Any, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_agent_export(data)
    assert [(d["field"], d["message"]) for d in info.value.details] == expected
    assert info.value.status == 422


@pytest.mark.parametrize("body", [{"graph": "x"}, {"graph": None, "source": "upload"}])
def test_request_body_without_a_graph_object(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_agent_export(body)
    assert info.value.details == [{"field": "graph", "message": "must be an object"}]


def test_shape_errors_in_request_body_are_prefixed() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_agent_export({"graph": {"nodes": [{"block_id": 1}]}, "source": "upload"})
    fields = [d["field"] for d in info.value.details]
    assert fields == ["graph.name", "graph.nodes[0].block_id"]


# --- reassign_ids ----------------------------------------------------------------------


def small_graph() -> Graph:
    return Graph(
        id="g1",
        name="g",
        nodes=[Node(id="a", block_id="x"), Node(id="b", block_id="x")],
        links=[Link(id="l", source_id="a", sink_id="b", source_name="o", sink_name="i")],
    )


def test_reassign_ids_gives_fresh_ids_and_keeps_structure() -> None:
    graph = small_graph()
    result = reassign_ids(graph, "user-1")
    assert result.id != "g1"
    assert result.user_id == "user-1"
    assert {n.id for n in result.nodes}.isdisjoint({"a", "b"})
    link = result.links[0]
    assert link.id != "l"
    assert (link.source_id, link.sink_id) == (result.nodes[0].id, result.nodes[1].id)
    assert (link.source_name, link.sink_name) == ("o", "i")
    assert graph == small_graph()


def test_reassign_ids_twice_differs() -> None:
    first, second = reassign_ids(small_graph(), "u"), reassign_ids(small_graph(), "u")
    assert first.id != second.id
    assert first.nodes[0].id != second.nodes[0].id


def test_dangling_link_ends_are_kept() -> None:
    graph = small_graph()
    graph.links.append(Link(source_id="a", sink_id="ghost", source_name="o", sink_name="i"))
    result = reassign_ids(graph, "u")
    assert result.links[1].sink_id == "ghost"


def executor(node_id: str, **input_default: Any) -> Node:
    return Node(id=node_id, block_id=catalog.AGENT_EXECUTOR, input_default=input_default)


def io_graph(
    graph_id: str, name: str, version: int, inputs: list[str], outputs: list[str]
) -> Graph:
    nodes = [
        Node(id=f"i{k}", block_id=catalog.AGENT_INPUT, input_default={"name": k}) for k in inputs
    ]
    nodes += [
        Node(id=f"o{k}", block_id=catalog.AGENT_OUTPUT, input_default={"name": k}) for k in outputs
    ]
    return Graph(id=graph_id, name=name, version=version, nodes=nodes)


def schema_copy(*names: str) -> dict[str, Any]:
    return {"type": "object", "properties": {n: {"title": n} for n in names}, "required": []}


def parent_with(node: Node, *subs: Graph) -> Graph:
    return Graph(id="parent", name="parent", nodes=[node], sub_graphs=list(subs))


def test_executor_nodes_get_user_and_inputs() -> None:
    graph = parent_with(executor("e", graph_id="ext", graph_version=1, user_id="old"))
    node = reassign_ids(graph, "me").nodes[0]
    assert node.input_default["user_id"] == "me"
    assert node.input_default["inputs"] == {}
    assert node.input_default["graph_id"] == "ext"  # not in the export: left alone


def test_executor_inputs_kept_or_replaced_when_not_an_object() -> None:
    kept = reassign_ids(parent_with(executor("e", inputs={"q": 1})), "me").nodes[0]
    assert kept.input_default["inputs"] == {"q": 1}
    bad = reassign_ids(parent_with(executor("e", inputs="nope")), "me").nodes[0]
    assert bad.input_default["inputs"] == {}


def test_executor_reference_by_id() -> None:
    sub = io_graph("s1", "Sub", 3, ["q"], ["a"])
    graph = parent_with(executor("e", graph_id="s1", graph_version=3), sub)
    result = reassign_ids(graph, "me")
    assert result.sub_graphs[0].id != "s1"
    assert result.nodes[0].input_default["graph_id"] == result.sub_graphs[0].id
    assert result.sub_graphs[0].user_id == "me"
    assert result.sub_graphs[0].nodes[0].id != "iq"


def test_executor_reference_by_version_and_pins() -> None:
    subs = [io_graph("s1", "A", 3, ["q"], ["a"]), io_graph("s2", "B", 3, ["x"], ["y"])]
    node = executor(
        "e",
        graph_id="stale",
        graph_version=3,
        input_schema=schema_copy("x"),
        output_schema=schema_copy("y"),
    )
    result = reassign_ids(parent_with(node, *subs), "me")
    assert result.nodes[0].input_default["graph_id"] == result.sub_graphs[1].id


def test_executor_reference_by_version_and_agent_name() -> None:
    subs = [io_graph("s1", "A", 3, ["q"], ["a"]), io_graph("s2", "B", 3, ["q"], ["a"])]
    node = executor("e", graph_id="stale", graph_version=3, agent_name="B")
    result = reassign_ids(parent_with(node, *subs), "me")
    assert result.nodes[0].input_default["graph_id"] == result.sub_graphs[1].id


@pytest.mark.parametrize(
    ("subs", "node"),
    [
        # two candidates with the same version and pins: ambiguous
        (
            [io_graph("s1", "A", 3, ["q"], ["a"]), io_graph("s2", "B", 3, ["q"], ["a"])],
            executor(
                "e",
                graph_id="stale",
                graph_version=3,
                input_schema=schema_copy("q"),
                output_schema=schema_copy("a"),
            ),
        ),
        # version differs
        (
            [io_graph("s1", "A", 2, ["q"], ["a"])],
            executor(
                "e",
                graph_id="stale",
                graph_version=3,
                input_schema=schema_copy("q"),
                output_schema=schema_copy("a"),
            ),
        ),
        # pins differ
        (
            [io_graph("s1", "A", 3, ["q"], ["a"])],
            executor(
                "e",
                graph_id="stale",
                graph_version=3,
                input_schema=schema_copy("q", "extra"),
                output_schema=schema_copy("a"),
            ),
        ),
        # no schema copies to compare
        ([io_graph("s1", "A", 3, ["q"], ["a"])], executor("e", graph_id="stale", graph_version=3)),
    ],
)
def test_unresolvable_references_are_left_alone(subs: list[Graph], node: Node) -> None:
    graph = parent_with(node, *subs)
    assert resolve_subgraph(node, subs) is None
    assert reassign_ids(graph, "me").nodes[0].input_default["graph_id"] == "stale"
    assert external_subgraph_refs(graph) == [("e", "stale", 3)]


@needs_agents
def test_decision_maker_references_resolve_despite_stale_ids() -> None:
    graph = parse_agent_export(load(DECISION_MAKER))
    refs = {
        n.input_default["graph_id"]: n.input_default["graph_version"]
        for g in all_graphs(graph)
        for n in g.nodes
        if n.block_id == catalog.AGENT_EXECUTOR
    }
    assert refs == {
        "0c9c3670-b3b4-45ce-92d1-42b178fd92b9": 10,
        "06fa822d-4c66-43ad-a49e-cd3f2b148b82": 16,
    }
    assert set(refs).isdisjoint(g.id for g in graph.sub_graphs)
    assert external_subgraph_refs(graph) == []

    result = reassign_ids(graph, "me")
    by_name = {g.name: g for g in result.sub_graphs}
    top = next(n for n in result.nodes if n.block_id == catalog.AGENT_EXECUTOR)
    assert top.input_default["graph_id"] == by_name["Find Business CEO"].id
    assert top.input_default["graph_version"] == 10
    inner = next(
        n for n in by_name["Find Business CEO"].nodes if n.block_id == catalog.AGENT_EXECUTOR
    )
    assert inner.input_default["graph_id"] == by_name["Web Search"].id
    assert inner.input_default["user_id"] == "me"
    assert inner.input_default["inputs"] == {"Question": "Why is the sky blue?"}
    assert external_subgraph_refs(result) == []


@needs_agents
@pytest.mark.parametrize("name", sorted(AGENT_FILES))
def test_reassigned_ids_are_unique_and_links_follow(name: str) -> None:
    graph = parse_agent_export(load(name))
    result = reassign_ids(graph, "me")
    old_ids = {n.id for g in all_graphs(graph) for n in g.nodes} | {g.id for g in all_graphs(graph)}
    new_nodes = [n.id for g in all_graphs(result) for n in g.nodes]
    assert len(set(new_nodes)) == len(new_nodes)
    assert old_ids.isdisjoint(new_nodes)
    for before, after in zip(all_graphs(graph), all_graphs(result), strict=True):
        index = {n.id: i for i, n in enumerate(before.nodes)}
        new_index = {n.id: i for i, n in enumerate(after.nodes)}
        assert [(index[lk.source_id], index[lk.sink_id]) for lk in before.links] == [
            (new_index[lk.source_id], new_index[lk.sink_id]) for lk in after.links
        ]


def test_keep_graph_ids_renews_only_nodes_and_links() -> None:
    sub = io_graph("s1", "Sub", 3, ["q"], ["a"])
    graph = parent_with(executor("e", graph_id="s1", graph_version=3), sub)
    result = reassign_ids(graph, "me", keep_graph_ids=True)
    assert (result.id, result.sub_graphs[0].id) == ("parent", "s1")
    assert result.nodes[0].id != "e"
    assert result.nodes[0].input_default["graph_id"] == "s1"


# --- the whole import, as POST /api/graphs does it -------------------------------------


@needs_agents
def test_import_graph_parses_reassigns_and_validates() -> None:
    blocks = BlockRegistry.builtin()
    data = load("calculator-agent.json")
    data["links"][0]["is_static"] = True  # CalculatorBlock is not static: kept as given
    data["links"][1]["is_static"] = False  # AgentInputBlock is: forced back on
    graph = import_graph({"graph": data, "source": "upload"}, "me", blocks)
    assert graph.id != data["id"]
    assert graph.user_id == "me"
    assert [lk.is_static for lk in graph.links] == [True, True]

    poster = load("agent_31daf49d-31d3-476b-aa4c-099abc59b458.json")
    ideogram = "6ab085e2-20b3-4055-bc3e-08036e01eca6"
    imported = import_graph(poster, "me", blocks)  # its Ideogram nodes have a block now
    assert [n.block_id for n in imported.nodes].count(ideogram) == 4
    unknown = "00000000-0000-4000-8000-00000000dead"
    for node in poster["nodes"]:
        if node["block_id"] == ideogram:
            node["block_id"] = unknown
    with pytest.raises(ValidationFailed) as info:
        import_graph(poster, "me", blocks)
    assert [d["block_id"] for d in info.value.details] == [unknown] * 4

    with pytest.raises(ValidationFailed) as info:
        import_graph({"graph": {"nodes": []}}, "me", blocks)
    assert info.value.details == [{"field": "graph.name", "message": "field required"}]


def test_links_only_on_nodes_without_ids_are_not_duplicated() -> None:
    link = {"source_id": "a", "sink_id": "b", "source_name": "output", "sink_name": "input"}
    data = {
        "name": "g",
        "description": "",
        "nodes": [
            {"id": "a", "block_id": "1ff065e9-88e8-4358-9d82-8dc91f622ba9", "output_links": [link]},
            {
                "id": "b",
                "block_id": "1ff065e9-88e8-4358-9d82-8dc91f622ba9",
                "input_links": [dict(link)],
            },
        ],
    }
    graph = parse_agent_export(data)
    assert len(graph.links) == 1
