"""OrchestratorBlock: tool definitions from tool nodes, checks of the model's calls, the
one-decision and agent-mode loops against a scripted Chat Completions endpoint, and the
executor's readiness rule for its tool-loop pins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.agent import AgentExecutorBlock
from autoplat.blocks.builtin.basic import StoreValueBlock
from autoplat.blocks.builtin.maths import CalculatorBlock
from autoplat.blocks.builtin.orchestrator import (
    LAST_TURN_PROMPT,
    OBJECTIVE_PREFIX,
    NoToolNodes,
    NoToolRunner,
    NoValidToolCall,
    OrchestratorBlock,
    ToolOutputMissing,
)
from autoplat.blocks.builtin.orchestrator_tools import (
    build_tools,
    check_call,
    clean_name,
    pending_tool_calls,
)
from autoplat.blocks.builtin.text import FillTextTemplateBlock
from autoplat.blocks.llm.standin import TEST_CREDENTIALS, TEST_CREDENTIALS_INPUT
from autoplat.blocks.llm.types import ToolCall
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.selftest import run_self_test
from autoplat.blocks.settings import BlockSettings
from autoplat.blocks.tooling import TOOLS_KEY, SubAgent, ToolNode, ToolOutcome, tool_pin
from autoplat.executions.graph import CompiledGraph
from tests.support.graphs import graph, input_node, link, node
from tests.support.servers import FakeLlm, serve

ORCHESTRATOR = OrchestratorBlock.id
ADD = ToolNode(
    "calc-node",
    CalculatorBlock(),
    ("a", "b"),
    {"operation": "Add"},
    {"customized_name": "Add Numbers"},
)
LOOKUP = ToolNode(
    "agent-node",
    AgentExecutorBlock(),
    ("Question",),
    {
        "graph_id": "g",
        "graph_version": 1,
        "input_schema": {
            "type": "object",
            "required": ["Question"],
            "properties": {
                "Question": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "title": "Question",
                    "description": "What to look up.",
                    "advanced": False,
                },
                "Depth": {"type": "integer", "default": 2, "title": "Depth"},
            },
        },
    },
    {},
    SubAgent("Web Search", "Searches the web."),
)


def call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """An assistant message making one tool call."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}
        ],
    }


class FakeTools:
    """The executor's hook, standing in: fixed tool nodes, scripted outcomes."""

    def __init__(self, nodes: Sequence[ToolNode], outcomes: Sequence[ToolOutcome] = ()) -> None:
        self.nodes = list(nodes)
        self.outcomes = list(outcomes)
        self.runs: list[tuple[str, dict[str, Any]]] = []

    async def tool_nodes(self) -> Sequence[ToolNode]:
        return self.nodes

    async def run_tool(self, node_id: str, inputs: Mapping[str, Any]) -> ToolOutcome:
        self.runs.append((node_id, dict(inputs)))
        return self.outcomes.pop(0) if self.outcomes else ToolOutcome({"result": [1]})


@pytest.fixture
async def llm() -> AsyncIterator[tuple[FakeLlm, BlockSettings]]:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        yield fake, BlockSettings(llm_provider_urls={"openai": f"{url}/v1"})


async def run(
    settings: BlockSettings, data: dict[str, Any], tools: FakeTools | None
) -> list[tuple[str, Any]]:
    async with httpx.AsyncClient() as http:
        context = BlockContext(
            settings=settings, http=http, credentials={"credentials": TEST_CREDENTIALS}
        )
        if tools is not None:
            context.extra[TOOLS_KEY] = tools
        record = {"model": "gpt-4o-mini", "credentials": TEST_CREDENTIALS_INPUT, **data}
        return [pair async for pair in OrchestratorBlock().execute(record, context)]


def pins(outputs: list[tuple[str, Any]]) -> list[str]:
    return [pin for pin, _ in outputs]


# --- definitions ---------------------------------------------------------------------------


def test_names_are_sanitised_as_autogpt_does() -> None:
    assert clean_name("Web Search") == "web_search"
    assert clean_name("Add Numbers!") == "add_numbers_"
    assert clean_name("values_#_my-key") == "values___my-key"
    assert len(clean_name("x" * 100)) == 64


def test_block_tool_offers_only_the_linked_fields_with_their_pin_schemas() -> None:
    [tool] = build_tools([ADD])
    assert tool.name == "add_numbers"  # the node's custom name wins over the block's
    assert tool.definition.description == CalculatorBlock.description
    params = tool.definition.parameters
    assert set(params["properties"]) == {"a", "b"}
    assert params["properties"]["a"]["type"] == "number"
    assert params["properties"]["a"]["description"] == "First operand."
    assert "advanced" not in params["properties"]["a"]
    assert params["required"] == ["a", "b"]
    assert params["additionalProperties"] is False
    assert tool.fields == {"a": "a", "b": "b"} and tool.node_id == "calc-node"


def test_agent_tool_is_named_after_the_sub_agent_with_its_input_schema() -> None:
    node_without_name = ToolNode("n", StoreValueBlock(), ("input",))
    tool, plain = build_tools([LOOKUP, node_without_name])
    assert tool.name == "web_search" and tool.definition.description == "Searches the web."
    question = tool.definition.parameters["properties"]["question"]
    assert question["description"] == "What to look up."
    assert question["anyOf"][0] == {"type": "string"} and "title" not in question
    assert tool.definition.parameters["required"] == ["question"]
    assert tool.fields == {"question": "Question"}
    assert plain.name == "storevalueblock"


def test_optional_fields_fall_back_to_a_default_and_the_rest_are_required() -> None:
    agent = ToolNode(
        "a2",
        AgentExecutorBlock(),
        ("Depth", "Other"),
        {"input_schema": LOOKUP.input_default["input_schema"]},
        {},
        SubAgent("Deep"),
    )
    template = ToolNode("t", FillTextTemplateBlock(), ("values_#_name", "escape_html"))
    deep, fill = build_tools([agent, template])
    assert deep.definition.parameters["required"] == ["other"]  # no default: required
    assert deep.defaults == {"depth": 2}
    assert fill.definition.parameters["properties"]["values___name"]["type"] == "string"
    assert fill.definition.parameters["required"] == ["values___name"]
    assert fill.defaults == {"escape_html": False}
    checked = check_call(ToolCall("c", "filltexttemplateblock", '{"values___name": "x"}'), [fill])
    assert not isinstance(checked, str)
    assert checked.pin_values() == [("values_#_name", "x"), ("escape_html", False)]


def test_tools_sharing_a_name_get_suffixes_and_their_presets() -> None:
    sub = ToolNode("s", CalculatorBlock(), ("a", "b"), {"operation": "Subtract"})
    mul = ToolNode("m", CalculatorBlock(), ("a", "b"), {"operation": "Multiply", "api_key": "k"})
    taken = ToolNode(
        "t", StoreValueBlock(), ("input",), {}, {"customized_name": "calculatorblock_1"}
    )
    tools = build_tools([sub, mul, taken])
    assert [t.name for t in tools] == [
        "calculatorblock_2",
        "calculatorblock_3",
        "calculatorblock_1",
    ]
    assert tools[0].definition.description.endswith('[Pre-configured: operation="Subtract"]')
    assert "api_key" not in tools[1].definition.description


# --- calls and conversations ---------------------------------------------------------------


def test_calls_are_checked_before_anything_runs() -> None:
    tools = build_tools([ADD, LOOKUP])
    unknown = check_call(ToolCall("1", "nope", "{}"), tools)
    assert isinstance(unknown, str) and "no tool named 'nope'" in unknown
    assert "add_numbers, web_search" in unknown
    broken = check_call(ToolCall("2", "add_numbers", '{"a": 1,'), tools)
    assert isinstance(broken, str) and "not valid JSON" in broken
    not_object = check_call(ToolCall("3", "add_numbers", "[1, 2]"), tools)
    assert isinstance(not_object, str) and "JSON object" in not_object
    wrong = check_call(ToolCall("4", "add_numbers", '{"a": 1, "c": 2}'), tools)
    assert isinstance(wrong, str)
    assert "unknown arguments ['c']" in wrong and "missing required arguments ['b']" in wrong
    good = check_call(ToolCall("5", "add_numbers", '{"a": 1, "b": 2}'), tools)
    assert not isinstance(good, str) and good.pin_values() == [("a", 1), ("b", 2)]


def test_a_misnamed_call_of_the_only_tool_is_that_tool() -> None:
    [tool] = build_tools([ADD])
    checked = check_call(ToolCall("1", "add", '{"a": 1, "b": 2}'), [tool])
    assert not isinstance(checked, str) and checked.tool is tool


def test_pending_calls_in_every_conversation_format() -> None:
    chat = [call("c1", "t", {}), {"role": "tool", "tool_call_id": "c1", "content": "x"}]
    assert pending_tool_calls(chat) == []
    assert pending_tool_calls(chat[:1]) == ["c1"]
    anthropic = [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2"}]},
    ]
    assert pending_tool_calls(anthropic) == ["toolu_1"]
    responses = [{"type": "function_call", "call_id": "r1"}, {"type": "function_call_output"}]
    assert pending_tool_calls(responses) == ["r1"]
    assert pending_tool_calls(None) == [] and pending_tool_calls("junk") == []


def test_the_readiness_rule_of_the_tool_loop_pins() -> None:
    waiting = OrchestratorBlock.input_pending
    open_call = [call("c1", "t", {})]
    assert not waiting({"conversation_history": []})  # the first decision
    assert waiting({"conversation_history": open_call})  # waits for the tool's output
    assert not waiting({"conversation_history": open_call, "last_tool_output": 5})
    assert waiting({"conversation_history": [], "last_tool_output": 5})  # waits for its call


def test_compiled_nodes_gate_on_every_pin_but_the_loop_pins() -> None:
    task = input_node("task")
    orch = node(ORCHESTRATOR, prompt="p")
    calc = node(CalculatorBlock.id, operation="Add")
    g = graph(
        [task, orch, calc],
        [
            link(task, "result", orch, "prompt_values_#_task", static=True),
            link(orch, "tools_^_add_~_a", calc, "a"),
            link(orch, "tools_^_add_~_b", calc, "b"),
            link(calc, "result", orch, "last_tool_output"),
            link(orch, "conversations", orch, "conversation_history"),
        ],
    )
    compiled = CompiledGraph.build(g, BlockRegistry.builtin())
    cnode = compiled.nodes[orch.id]
    assert cnode.gated_pins == {"prompt_values_#_task"}
    assert cnode.tool_sinks == {calc.id: ["a", "b"]}
    assert cnode.ready({"prompt_values_#_task": "x"})
    assert not cnode.ready(
        {"prompt_values_#_task": "x", "conversation_history": [call("c", "t", {})]}
    )
    assert compiled.nodes[calc.id].gated_pins == {"a", "b"}
    assert not compiled.nodes[calc.id].ready({"a": 1})


# --- one decision per node execution -------------------------------------------------------


async def test_a_tool_call_is_emitted_on_the_tool_pins(llm: tuple[FakeLlm, BlockSettings]) -> None:
    fake, settings = llm
    fake.replies = [call("call_1", "add_numbers", {"a": 2, "b": 3})]
    outputs = await run(
        settings,
        {"prompt": "Add {{x}} and 3", "prompt_values": {"x": "2"}, "sys_prompt": "Be exact."},
        FakeTools([ADD, LOOKUP]),
    )
    assert pins(outputs) == [
        "tool_functions",
        tool_pin("calc-node", "a"),
        tool_pin("calc-node", "b"),
        "conversations",
    ]
    assert outputs[1][1] == 2 and outputs[2][1] == 3
    conversation = outputs[3][1]
    assert conversation[0] == {"role": "system", "content": OBJECTIVE_PREFIX + "Be exact."}
    assert conversation[1] == {"role": "user", "content": OBJECTIVE_PREFIX + "Add 2 and 3"}
    assert conversation[2]["tool_calls"][0]["id"] == "call_1"
    [sent] = fake.requests
    assert [t["function"]["name"] for t in sent["tools"]] == ["add_numbers", "web_search"]
    assert sent["parallel_tool_calls"] is False
    assert json.loads(outputs[0][1])[0]["function"]["parameters"]["required"] == ["a", "b"]


async def test_the_tool_output_answers_the_open_call(llm: tuple[FakeLlm, BlockSettings]) -> None:
    fake, settings = llm
    fake.replies = ["It is 5."]
    history = [
        {"role": "system", "content": OBJECTIVE_PREFIX + "s"},
        {"role": "user", "content": OBJECTIVE_PREFIX + "Add 2 and 3"},
        call("call_1", "add_numbers", {"a": 2, "b": 3}),
    ]
    outputs = await run(
        settings,
        {"prompt": "Add 2 and 3", "conversation_history": history, "last_tool_output": 5.0},
        FakeTools([ADD]),
    )
    assert outputs[1:] == [("finished", "It is 5.")]
    messages = fake.requests[0]["messages"]
    assert len(messages) == 4  # the objective is carried, not repeated
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "5.0"}


async def test_outputs_of_parallel_calls_are_collected_first(
    llm: tuple[FakeLlm, BlockSettings],
) -> None:
    fake, settings = llm
    two = call("c1", "add_numbers", {"a": 1, "b": 1})
    two["tool_calls"].append({**two["tool_calls"][0], "id": "c2"})
    outputs = await run(
        settings,
        {"prompt": "p", "conversation_history": [two], "last_tool_output": 2},
        FakeTools([ADD]),
    )
    assert pins(outputs) == ["tool_functions", "conversations"]
    assert outputs[1][1][-1]["tool_call_id"] == "c1"
    assert fake.requests == []  # the model waits for the second output


async def test_an_output_without_its_conversation_is_refused() -> None:
    with pytest.raises(ToolOutputMissing):
        await run(
            BlockSettings(),
            {"prompt": "p", "conversation_history": [call("c1", "t", {})]},
            FakeTools([ADD]),
        )


async def test_bad_calls_go_back_to_the_model_as_errors(
    llm: tuple[FakeLlm, BlockSettings],
) -> None:
    fake, settings = llm
    fake.replies = [
        call("bad_1", "nope", {}),
        call("bad_2", "add_numbers", '{"a": 2,'),
        call("good", "add_numbers", {"a": 2, "b": 3}),
    ]
    outputs = await run(settings, {"prompt": "Add"}, FakeTools([ADD, LOOKUP]))
    assert pins(outputs)[1:] == [
        tool_pin("calc-node", "a"),
        tool_pin("calc-node", "b"),
        "conversations",
    ]
    assert len(fake.requests) == 3
    second = fake.requests[1]["messages"]
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == "bad_1"
    assert "no tool named 'nope'" in second[-1]["content"]
    third = fake.requests[2]["messages"]
    assert third[-1]["tool_call_id"] == "bad_2" and "not valid JSON" in third[-1]["content"]
    conversation = outputs[-1][1]
    assert [m.get("is_error") for m in conversation if m["role"] == "tool"] == [True, True]
    assert conversation[-1]["tool_calls"][0]["id"] == "good"
    assert pending_tool_calls(conversation) == ["good"]


async def test_a_model_that_keeps_calling_badly_fails_the_node_saying_why(
    llm: tuple[FakeLlm, BlockSettings],
) -> None:
    fake, settings = llm
    fake.replies = [call("bad", "nope", {})]
    with pytest.raises(NoValidToolCall) as caught:
        await run(settings, {"prompt": "p", "retry": 2}, FakeTools([ADD, LOOKUP]))
    assert caught.value.code == "orchestrator_bad_tool_calls"
    assert "in 2 attempts" in caught.value.message and len(fake.requests) == 2


async def test_it_needs_the_executor_and_tool_nodes() -> None:
    with pytest.raises(NoToolRunner):
        await run(BlockSettings(), {"prompt": "p"}, None)
    with pytest.raises(NoToolNodes):
        await run(BlockSettings(), {"prompt": "p"}, FakeTools([]))


# --- agent mode ------------------------------------------------------------------------------


async def test_agent_mode_runs_the_tools_itself(llm: tuple[FakeLlm, BlockSettings]) -> None:
    fake, settings = llm
    fake.replies = [
        call("c1", "add_numbers", {"a": 2, "b": 3}),
        call("c2", "web_search", {"question": "five?"}),
        "Five, found.",
    ]
    tools = FakeTools(
        [ADD, LOOKUP],
        [ToolOutcome({"result": [5.0]}), ToolOutcome(error="the sub-agent failed")],
    )
    outputs = await run(settings, {"prompt": "go", "agent_mode_max_iterations": -1}, tools)
    assert tools.runs == [("calc-node", {"a": 2, "b": 3}), ("agent-node", {"Question": "five?"})]
    assert pins(outputs) == [
        "tool_functions",
        "tool_calls",
        "tool_calls",
        "finished",
        "conversations",
    ]
    assert outputs[3] == ("finished", "Five, found.")
    results = [m for m in outputs[4][1] if m["role"] == "tool"]
    assert results[0]["content"] == '{"result": [5.0]}' and "is_error" not in results[0]
    assert (
        results[1]["is_error"]
        and "Tool execution failed: the sub-agent failed" in results[1]["content"]
    )
    assert fake.requests[2]["messages"][-1]["tool_call_id"] == "c2"


async def test_agent_mode_answers_bad_calls_and_stops_at_its_limit(
    llm: tuple[FakeLlm, BlockSettings],
) -> None:
    fake, settings = llm
    fake.replies = [call("c1", "nope", {}), call("c2", "add_numbers", {"a": 1, "b": 1})]
    tools = FakeTools([ADD, LOOKUP])
    outputs = await run(settings, {"prompt": "go", "agent_mode_max_iterations": 2}, tools)
    assert tools.runs == [("calc-node", {"a": 1, "b": 1})]
    assert outputs[-2] == ("finished", "Agent mode stopped after 2 iterations (the limit)")
    first, last = fake.requests
    assert LAST_TURN_PROMPT not in json.dumps(first["messages"])
    assert last["messages"][-1] == {"role": "system", "content": LAST_TURN_PROMPT}
    assert "no tool named 'nope'" in last["messages"][-2]["content"]
    # The last-turn hint is for that call only, not part of the conversation.
    assert LAST_TURN_PROMPT not in json.dumps(outputs[-1][1])


async def test_self_test_vectors_run_on_the_offline_stand_in() -> None:
    async with httpx.AsyncClient() as http:
        await run_self_test(OrchestratorBlock(), BlockContext(settings=BlockSettings(), http=http))


def test_the_output_graph_shape_matches_autogpt() -> None:
    outputs = OrchestratorBlock.output_schema.pin_names()
    assert outputs == {"error", "tools", "finished", "conversations"}
    inputs = OrchestratorBlock.input_schema.json_schema()
    assert inputs["required"] == ["prompt"]
    for pin_name in ("conversation_history", "last_tool_output", "agent_mode_max_iterations"):
        assert pin_name in inputs["properties"]
    assert inputs["properties"]["agent_mode_max_iterations"]["default"] == 0
    assert OrchestratorBlock.ungated_pins == {"conversation_history", "last_tool_output"}
