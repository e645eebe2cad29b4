"""Graph validation: the real agent exports against the builtin blocks, and one table per rule."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from autoplat.blocks.base import (
    Block,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.agent import AgentExecutorBlock
from autoplat.blocks.builtin.basic import NoteBlock, PrintToConsoleBlock, StoreValueBlock
from autoplat.blocks.builtin.io import (
    AgentDropdownInputBlock,
    AgentInputBlock,
    AgentOutputBlock,
    AgentToggleInputBlock,
)
from autoplat.blocks.registry import BlockRegistry
from autoplat.errors import ValidationFailed
from autoplat.graphs import catalog
from autoplat.graphs.importer import parse_agent_export, reassign_ids
from autoplat.graphs.model import Graph, Link, Node
from autoplat.graphs.validation import (
    graph_errors,
    missing_blocks,
    run_input_errors,
    validate_graph,
    validate_run_inputs,
)

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
needs_agents = pytest.mark.skipif(not AGENTS.is_dir(), reason=f"{AGENTS} is absent")


# --- blocks made for these tests -------------------------------------------------------


class Mode(enum.Enum):
    """A closed set of string values."""

    FAST = "fast"
    SLOW = "slow"


class Point(BaseModel):
    """A structured pin value."""

    x: int
    y: int


class SourceBlock(Block["SourceBlock.Input"]):
    """Outputs of many types."""

    class Input(BlockSchema):
        trigger: Any = None

    class Output(BlockOutputSchema):
        text: str
        number: int
        items: list[Any]
        data: dict[str, Any]
        anything: Any
        mode: Mode
        maybe_text: str | None
        tools: Any

    id = "00000000-0000-4000-8000-000000000001"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "text", ""


class SinkBlock(Block["SinkBlock.Input"]):
    """Inputs of many types; ``text`` is required."""

    class Input(BlockSchema):
        text: str
        count: int = 0
        flag: bool = False
        values: dict[str, Any] = {}
        entries: list[Any] = []
        mode: Mode = Mode.FAST
        letter: Literal["a", "b"] = "a"
        point: Point | None = None
        anything: Any = None

    class Output(BlockOutputSchema):
        out: Any

    id = "00000000-0000-4000-8000-000000000002"
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "out", input_data.text


def registry() -> BlockRegistry:
    blocks: list[Block[Any]] = [
        SourceBlock(),
        SinkBlock(),
        AgentExecutorBlock(),
        StoreValueBlock(),
        NoteBlock(),
        PrintToConsoleBlock(),
        AgentInputBlock(),
        AgentDropdownInputBlock(),
        AgentToggleInputBlock(),
        AgentOutputBlock(),
    ]
    return BlockRegistry(blocks)


SRC, SINK, STORE, NOTE = SourceBlock.id, SinkBlock.id, StoreValueBlock.id, NoteBlock.id
INPUT, OUTPUT, DROPDOWN = AgentInputBlock.id, AgentOutputBlock.id, AgentDropdownInputBlock.id
TOGGLE, PRINT = AgentToggleInputBlock.id, PrintToConsoleBlock.id


def node(node_id: str, block_id: str, **input_default: Any) -> Node:
    return Node(id=node_id, block_id=block_id, input_default=input_default)


def link(source: str, source_name: str, sink: str, sink_name: str, link_id: str = "") -> Link:
    ends = {"source_id": source, "source_name": source_name}
    ends |= {"sink_id": sink, "sink_name": sink_name}
    return Link(id=link_id, **ends) if link_id else Link(**ends)


def graph(nodes: list[Node], links: list[Link] | None = None, **extra: Any) -> Graph:
    return Graph(id="g", name="g", nodes=nodes, links=links or [], **extra)


def problems(g: Graph) -> list[tuple[str | None, str | None, str]]:
    return [(d["node_id"], d["pin"], d["message"]) for d in graph_errors(g, registry())]


# --- the rules, one table --------------------------------------------------------------

VALID = [
    node("src", SRC),
    node("sink", SINK, text="t"),
]

RULES: list[tuple[str, Graph, list[tuple[str | None, str | None, str]]]] = [
    ("a valid graph", graph(VALID, [link("src", "text", "sink", "text")]), []),
    (
        "duplicate node id",
        graph([node("a", SRC), node("a", SINK, text="t")]),
        [("a", None, "duplicate node id a (2 nodes)")],
    ),
    (
        "duplicate link id",
        graph(
            VALID,
            [link("src", "text", "sink", "text", "L"), link("src", "number", "sink", "count", "L")],
        ),
        [(None, None, "duplicate link id (2 links)")],
    ),
    (
        "link source missing",
        graph(VALID, [link("ghost", "text", "sink", "text")]),
        [("ghost", "text", "link source node ghost does not exist")],
    ),
    (
        "link sink missing",
        graph(VALID, [link("src", "text", "ghost", "x")]),
        [("ghost", "x", "link sink node ghost does not exist")],
    ),
    (
        "unknown block: one error per node, its links are not checked",
        graph(
            [*VALID, node("x", "no-such-block")],
            [link("src", "text", "x", "whatever"), link("x", "out", "sink", "nope")],
        ),
        [("x", None, "Invalid block no-such-block for node #x")],
    ),
    (
        "disabled block",
        graph([node("p", PRINT, text="t")]),
        [("p", None, "Block PrintToConsoleBlock is disabled")],
    ),
    (
        "unknown source pin",
        graph(VALID, [link("src", "nope", "sink", "text")]),
        [("src", "nope", "SourceBlock has no output pin 'nope'")],
    ),
    (
        "unknown sink pin",
        graph(VALID, [link("src", "text", "sink", "nope")]),
        [("sink", "nope", "SinkBlock has no input pin 'nope'")],
    ),
    ("implicit error pin", graph(VALID, [link("src", "error", "sink", "text")]), []),
    ("dynamic sink pin", graph(VALID, [link("src", "text", "sink", "values_#_name")]), []),
    ("dynamic list sink pin", graph(VALID, [link("src", "text", "sink", "entries_$_0")]), []),
    ("dynamic source pin", graph(VALID, [link("src", "data_#_k", "sink", "text")]), []),
    (
        "dynamic pin on an unknown base",
        graph(VALID, [link("src", "text", "sink", "nope_#_name")]),
        [("sink", "nope_#_name", "SinkBlock has no input pin 'nope'")],
    ),
    (
        "malformed dynamic pin is judged by its base",
        graph(VALID, [link("src", "text", "sink", "values_#_")]),
        [],
    ),
    (
        "tool link: sink pin not checked",
        graph(VALID, [link("src", "tools_^_search_~_query", "sink", "query")]),
        [],
    ),
    ("str output into int input", graph(VALID, [link("src", "text", "sink", "count")]), []),
    ("int output into str input", graph(VALID, [link("src", "number", "sink", "text")]), []),
    ("list output into bool input", graph(VALID, [link("src", "items", "sink", "flag")]), []),
    ("dict output into list input", graph(VALID, [link("src", "data", "sink", "entries")]), []),
    ("str output into enum input", graph(VALID, [link("src", "text", "sink", "mode")]), []),
    ("optional str into enum input", graph(VALID, [link("src", "maybe_text", "sink", "mode")]), []),
    ("enum output into literal input", graph(VALID, [link("src", "mode", "sink", "letter")]), []),
    ("untyped output into enum input", graph(VALID, [link("src", "anything", "sink", "mode")]), []),
    ("dict output into model input", graph(VALID, [link("src", "data", "sink", "point")]), []),
    ("anything into untyped input", graph(VALID, [link("src", "items", "sink", "anything")]), []),
    (
        "int output into enum input",
        graph(VALID, [link("src", "number", "sink", "mode")]),
        [
            (
                "sink",
                "mode",
                "output of type integer, number can never be one of the pin's allowed values",
            )
        ],
    ),
    (
        "list output into literal input",
        graph(VALID, [link("src", "items", "sink", "letter")]),
        [("sink", "letter", "output of type array can never be one of the pin's allowed values")],
    ),
    (
        "str output into model input",
        graph(VALID, [link("src", "text", "sink", "point")]),
        [("sink", "point", "output of type string can never be the object this pin expects")],
    ),
    (
        "paths skip the type check",
        graph(VALID, [link("src", "items_$_0", "sink", "mode")]),
        [],
    ),
    ("input node with a name", graph([node("i", INPUT, name="q")]), []),
    (
        "input node without a name",
        graph([node("i", INPUT)]),
        [("i", "name", "required field 'name' is not set")],
    ),
    (
        "input node with a blank name",
        graph([node("i", INPUT, name=" ")]),
        [("i", "name", "required field 'name' is not set")],
    ),
    (
        "input node with a null name",
        graph([node("i", INPUT, name=None)]),
        [("i", "name", "required field 'name' is not set")],
    ),
    (
        "output node without a name",
        graph([node("o", OUTPUT, value=1)]),
        [("o", "name", "required field 'name' is not set")],
    ),
    (
        "output name set by a link",
        graph([node("s", SRC), node("o", OUTPUT)], [link("s", "text", "o", "name")]),
        [],
    ),
    ("standard nodes are not checked on save", graph([node("sink", SINK)]), []),
    (
        "input named credentials",
        graph([node("i", INPUT, name="credentials")]),
        [("i", "name", "input name 'credentials' is reserved")],
    ),
    (
        "input named x_credentials",
        graph([node("i", INPUT, name="openai_credentials")]),
        [("i", "name", "input name 'openai_credentials' is reserved")],
    ),
    ("input named credentials_x", graph([node("i", INPUT, name="credentials_note")]), []),
    (
        "agent node missing its configuration",
        graph([node("e", catalog.AGENT_EXECUTOR)]),
        [
            ("e", "graph_id", "required field 'graph_id' is not set"),
            ("e", "graph_version", "required field 'graph_version' is not set"),
            ("e", "input_schema", "required field 'input_schema' is not set"),
            ("e", "output_schema", "required field 'output_schema' is not set"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("g", "expected"), [case[1:] for case in RULES], ids=[case[0] for case in RULES]
)
def test_rule(g: Graph, expected: list[tuple[str | None, str | None, str]]) -> None:
    assert problems(g) == expected


def agent_node(node_id: str = "e", **overrides: Any) -> Node:
    config: dict[str, Any] = {
        "user_id": "u",
        "graph_id": "sub",
        "graph_version": 1,
        "inputs": {},
        "input_schema": {
            "type": "object",
            "properties": {"question": {}},
            "required": ["question"],
        },
        "output_schema": {"type": "object", "properties": {"answer": {}}, "required": []},
    }
    return Node(id=node_id, block_id=catalog.AGENT_EXECUTOR, input_default=config | overrides)


AGENT_PINS: list[tuple[str, Link, list[tuple[str | None, str | None, str]]]] = [
    ("sub-graph input", link("src", "text", "e", "question"), []),
    ("sub-graph output", link("e", "answer", "sink", "text"), []),
    (
        "unknown sub-graph input",
        link("src", "text", "e", "nope"),
        [("e", "nope", "AgentExecutorBlock has no input pin 'nope'")],
    ),
    (
        "unknown sub-graph output",
        link("e", "nope", "sink", "text"),
        [("e", "nope", "AgentExecutorBlock has no output pin 'nope'")],
    ),
    (
        "the block's own pins are not sub-graph pins",
        link("src", "text", "e", "graph_id"),
        [("e", "graph_id", "AgentExecutorBlock has no input pin 'graph_id'")],
    ),
]


@pytest.mark.parametrize(
    ("lk", "expected"), [case[1:] for case in AGENT_PINS], ids=[case[0] for case in AGENT_PINS]
)
def test_agent_executor_pins_come_from_its_schema_copies(
    lk: Link, expected: list[tuple[str | None, str | None, str]]
) -> None:
    assert problems(graph([*VALID, agent_node()], [lk])) == expected


def test_agent_executor_without_schema_copies_has_no_pins() -> None:
    g = graph([*VALID, agent_node(input_schema="bad")], [link("src", "text", "e", "question")])
    assert ("e", "question", "AgentExecutorBlock has no input pin 'question'") in problems(g)


def test_details_shape() -> None:
    g = graph(VALID, [link("src", "text", "sink", "nope", "L1")])
    with pytest.raises(ValidationFailed) as info:
        validate_graph(g, registry())
    assert info.value.status == 422
    assert info.value.details == [
        {
            "graph_id": "g",
            "node_id": "sink",
            "block_id": SINK,
            "pin": "nope",
            "message": "SinkBlock has no input pin 'nope'",
            "link_id": "L1",
        }
    ]
    assert "SinkBlock has no input pin" in info.value.message


def test_every_problem_is_reported() -> None:
    g = graph(
        [node("i", INPUT), node("x", "missing-block"), *VALID],
        [link("src", "nope", "sink", "nope")],
    )
    with pytest.raises(ValidationFailed) as info:
        validate_graph(g, registry())
    assert len(info.value.details) == 4
    assert "(and 3 more)" in info.value.message


def test_sub_graph_problems_name_the_sub_graph() -> None:
    sub = Graph(id="sub", name="sub", nodes=[node("i", INPUT)])
    g = graph(VALID, sub_graphs=[sub])
    assert [(d["graph_id"], d["node_id"], d["pin"]) for d in graph_errors(g, registry())] == [
        ("sub", "i", "name")
    ]


def test_missing_blocks_lists_nodes_in_order_including_sub_graphs() -> None:
    sub = Graph(id="sub", name="sub", nodes=[node("s1", "gone-2")])
    g = graph([node("a", "gone-1"), *VALID, node("b", "gone-1")], sub_graphs=[sub])
    assert missing_blocks(g, registry()) == [("a", "gone-1"), ("b", "gone-1"), ("s1", "gone-2")]


def test_static_links_are_forced_and_input_untouched() -> None:
    g = graph(
        [node("store", STORE, input="x"), node("i", INPUT, name="q"), *VALID],
        [
            link("store", "output", "sink", "text"),
            link("i", "result", "sink", "values_#_q"),
            link("src", "text", "sink", "anything"),
        ],
        sub_graphs=[
            graph(
                [node("i2", INPUT, name="q"), node("o", OUTPUT, name="a")],
                [link("i2", "result", "o", "value")],
            )
        ],
    )
    result = validate_graph(g, registry())
    assert [lk.is_static for lk in result.links] == [True, True, False]
    assert result.sub_graphs[0].links[0].is_static is True
    assert [lk.is_static for lk in g.links] == [False, False, False]
    assert result.model_copy(update={"links": g.links, "sub_graphs": g.sub_graphs}) == g


def test_static_flag_is_kept_when_already_set() -> None:
    lk = link("src", "text", "sink", "text").model_copy(update={"is_static": True})
    assert validate_graph(graph(VALID, [lk]), registry()).links[0].is_static is True


# --- run inputs ------------------------------------------------------------------------


def run_problems(g: Graph, inputs: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    return [(d["node_id"], d["pin"], d["message"]) for d in run_input_errors(g, inputs, registry())]


RUN_CASES: list[tuple[str, Graph, dict[str, Any], list[tuple[str | None, str | None, str]]]] = [
    ("input given", graph([node("i", INPUT, name="q")]), {"q": 1}, []),
    ("input falsy but given", graph([node("i", INPUT, name="q")]), {"q": 0}, []),
    (
        "input missing",
        graph([node("i", INPUT, name="q")]),
        {},
        [("i", "q", "required graph input 'q' is missing")],
    ),
    (
        "input null",
        graph([node("i", INPUT, name="q")]),
        {"q": None},
        [("i", "q", "required graph input 'q' is missing")],
    ),
    ("input default", graph([node("i", INPUT, name="q", value="d")]), {}, []),
    ("toggle defaults to false", graph([node("t", TOGGLE, name="on")]), {}, []),
    ("extra run inputs ignored", graph([node("i", INPUT, name="q", value=1)]), {"other": 2}, []),
    (
        "input without a name",
        graph([node("i", INPUT)]),
        {},
        [("i", "name", "input node has no name")],
    ),
    ("dropdown option", graph([node("d", DROPDOWN, name="c", options=["a", "b"])]), {"c": "b"}, []),
    (
        "dropdown not an option",
        graph([node("d", DROPDOWN, name="c", options=["a", "b"])]),
        {"c": "z"},
        [("d", "c", "'z' is not one of ['a', 'b']")],
    ),
    (
        "dropdown without options",
        graph([node("d", DROPDOWN, name="c", options=[])]),
        {"c": "z"},
        [],
    ),
    (
        "required pin without default or link",
        graph([node("sink", SINK)]),
        {},
        [("sink", "text", "required input 'text' of SinkBlock has no value and no link")],
    ),
    ("required pin by default", graph([node("sink", SINK, text="")]), {}, []),
    (
        "required pin by link",
        graph([*VALID[:1], node("sink", SINK)], [link("src", "text", "sink", "text")]),
        {},
        [],
    ),
    (
        "required pin by dynamic link",
        graph([node("s", SRC), node("k", STORE)], [link("s", "text", "k", "input_#_x")]),
        {},
        [],
    ),
    ("required pin by dynamic default", graph([node("k", STORE, **{"input_$_0": 1})]), {}, []),
    ("notes are not run", graph([node("n", NOTE)]), {}, []),
    ("unknown block", graph([node("x", "gone")]), {}, [("x", None, "Block gone no longer exists")]),
    (
        "disabled block",
        graph([node("p", PRINT, text="t")]),
        {},
        [("p", None, "Block PrintToConsoleBlock is disabled")],
    ),
    (
        "sub-graph input missing",
        graph([agent_node()]),
        {},
        [
            (
                "e",
                "question",
                "required input 'question' of AgentExecutorBlock has no value and no link",
            )
        ],
    ),
    ("sub-graph input in inputs", graph([agent_node(inputs={"question": "why"})]), {}, []),
    (
        "sub-graph input linked",
        graph([node("s", SRC), agent_node()], [link("s", "text", "e", "question")]),
        {},
        [],
    ),
]


@pytest.mark.parametrize(
    ("g", "inputs", "expected"),
    [case[1:] for case in RUN_CASES],
    ids=[case[0] for case in RUN_CASES],
)
def test_run_inputs(
    g: Graph, inputs: dict[str, Any], expected: list[tuple[str | None, str | None, str]]
) -> None:
    assert run_problems(g, inputs) == expected


def test_validate_run_inputs_raises_with_details() -> None:
    g = graph([node("i", INPUT, name="q"), node("sink", SINK)])
    with pytest.raises(ValidationFailed) as info:
        validate_run_inputs(g, {}, registry())
    assert [d["node_id"] for d in info.value.details] == ["i", "sink"]
    assert info.value.status == 422
    validate_run_inputs(graph([node("i", INPUT, name="q")]), {"q": 1}, registry())


# --- the real agent exports against the builtin blocks ---------------------------------

# Blocks of the exports that are not in blocks.md's basic list (agents/INDEX.md).
NON_BASIC_BLOCKS = {
    "6ab085e2-20b3-4055-bc3e-08036e01eca6": "IdeogramModelBlock",
    "436c3984-57fd-4b85-8e9a-459b356883bd": "ExtractWebsiteContentBlock",
    "87840993-2053-44b7-8da4-187ad4ee518c": "SearchTheWebBlock",
    "90f8c45e-e983-4644-aa0b-b4ebe2f531bc": "ReplicateFluxAdvancedModelBlock",
    "f3a8f7e1-4b1d-4e5f-9f2a-7c3d5a2e6b4c": "TranscribeYoutubeVideoBlock",
    "9c0b0450-d199-458b-a731-072189dd6593": "AIListGeneratorBlock",
    "f47ac10b-58cc-4372-a567-0e02b2c3d479": "GoogleMapsSearchBlock",
    "0b02b072-abe7-11ef-8372-fb5d162dd712": "ExecuteCodeBlock",
    "3b191d9f-356f-482d-8238-ba04b6d18381": "OrchestratorBlock",
    "df06086a-d5ac-4abb-9996-2ad0acb2eff7": "ReadDiscordMessagesBlock",
    "d0822ab5-9f8a-44a3-8971-531dd0178b6b": "SendDiscordMessageBlock",
    "3f7b2dcb-4a78-4e3f-b0f1-88132e1b89df": "PublishToMediumBlock",
}
AI_TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
ALL_BASIC = ["calculator-agent.json", "frontend_testing_agent.json"]
AI_FUNCTION = "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json"
# The legacy Discord template's pre-2025 pins (CombineTexts' input1/input2, the readers'
# discord_bot_token) are renamed on import (graphs/legacy.py): no export has pin errors now.
LEGACY_PIN_ERRORS: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def builtin() -> BlockRegistry:
    return BlockRegistry.builtin()


def imported(name: str) -> Graph:
    return reassign_ids(parse_agent_export(json.loads((AGENTS / name).read_text())), "user-1")


def agent_files() -> list[str]:
    return sorted(p.name for p in AGENTS.glob("*.json")) if AGENTS.is_dir() else []


@needs_agents
@pytest.mark.parametrize("name", agent_files())
def test_agent_export_validates_or_names_its_missing_blocks(
    name: str, builtin: BlockRegistry
) -> None:
    g = imported(name)
    nodes = [n for sub in (g, *g.sub_graphs) for n in sub.nodes]
    missing = missing_blocks(g, builtin)
    # Only blocks outside the basic list may be missing, and each is reported with its node.
    assert missing == [
        (n.id, n.block_id)
        for n in nodes
        if n.block_id in NON_BASIC_BLOCKS and builtin.get(n.block_id) is None
    ]
    if not missing and name not in LEGACY_PIN_ERRORS:
        validate_graph(g, builtin)
        return
    with pytest.raises(ValidationFailed) as info:
        validate_graph(g, builtin)
    block_errors = [(d["node_id"], d["block_id"]) for d in info.value.details if d["pin"] is None]
    assert block_errors == missing
    for node_id, block_id in missing:
        assert f"Invalid block {block_id} for node #{node_id}" in [
            d["message"] for d in info.value.details
        ]
    pin_errors = [d["message"] for d in info.value.details if d["pin"] is not None]
    assert pin_errors == LEGACY_PIN_ERRORS.get(name, [])


@needs_agents
@pytest.mark.parametrize("name", ALL_BASIC)
def test_basic_only_agents_validate(name: str, builtin: BlockRegistry) -> None:
    result = validate_graph(imported(name), builtin)
    assert result.name


@needs_agents
def test_ai_function_agent_validates_when_llm_blocks_exist(builtin: BlockRegistry) -> None:
    if builtin.get(AI_TEXT_GENERATOR) is None:
        pytest.skip("AITextGeneratorBlock is not registered")
    result = validate_graph(imported(AI_FUNCTION), builtin)
    assert sum(lk.is_static for lk in result.links) == 3


@needs_agents
def test_calculator_agent_run_inputs(builtin: BlockRegistry) -> None:
    g = validate_graph(imported("calculator-agent.json"), builtin)
    validate_run_inputs(g, {"Input": 8}, builtin)
    with pytest.raises(ValidationFailed) as info:
        validate_run_inputs(g, {}, builtin)
    assert [d["pin"] for d in info.value.details] == ["Input"]
