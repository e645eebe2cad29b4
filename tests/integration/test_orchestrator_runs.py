"""OrchestratorBlock inside runs: a scripted three-step tool conversation (a block tool, then a
sub-agent tool, then the answer) in one-decision mode, where the graph carries the calls and
results along its links, and in agent mode, where the node runs the tools itself; bad calls
and failing tools go back to the model; the shared Decision Maker agent imports and runs
against a local OpenAI stand-in (and a stand-in for the one block autoplat lacks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autoplat.blocks.base import Block, BlockContext, BlockOutput, BlockOutputSchema, BlockSchema
from autoplat.blocks.builtin.orchestrator import OrchestratorBlock
from autoplat.blocks.registry import BlockRegistry
from autoplat.blocks.schema import pin
from autoplat.executions.run import TOOL_CALLER
from autoplat.graphs.model import Graph, Node
from autoplat.graphs.service import GraphService
from autoplat.platform import Platform
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node
from tests.support.servers import FakeLlm, serve

AGENTS = Path(__file__).resolve().parents[3] / "shared" / "compat" / "agents"
DECISION_MAKER = AGENTS / "agent_6e16e65a-ad34-4108-b4fd-4a23fced5ea2.json"
GOOGLE_MAPS = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
USER = "user-a"


def call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """An assistant message making one tool call."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    function = {"name": name, "arguments": text}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def lookup_graph() -> Graph:
    """The sub-agent tool: ``q`` -> "Looked up: <q>" on output ``answer``."""
    q = input_node("q")
    fill = node(tk.FILL_TEMPLATE, format="Looked up: {{ q }}", values={})
    answer = output_node("answer")
    return Graph(
        name="Lookup",
        description="Looks a word up.",
        nodes=[q, fill, answer],
        links=[link(q, "result", fill, "values_#_q"), link(fill, "output", answer, "value")],
    )


def orchestrator_graph(child: Graph, *, agent_mode: bool) -> tuple[Graph, dict[str, Node]]:
    """task -> Orchestrator with two tools (a calculator, the Lookup sub-agent) -> answer.

    The tools' results are linked back into ``last_tool_output`` in both modes (agent mode
    must not feed them to the node again); only one-decision mode carries the conversation
    back into ``conversation_history``.
    """
    task = input_node("task")
    orch = node(
        OrchestratorBlock.id,
        model="gpt-4o-mini",
        sys_prompt="Use the tools.",
        agent_mode_max_iterations=5 if agent_mode else 0,
    )
    calc = node(tk.CALCULATOR, operation="Add").model_copy(
        update={"metadata": {"customized_name": "add"}}
    )
    sub = node(
        tk.AGENT_EXECUTOR,
        user_id=USER,
        graph_id=child.id,
        graph_version=child.version,
        inputs={},
        input_schema={
            "type": "object",
            "properties": {"q": {"type": "string", "description": "The word to look up."}},
            "required": ["q"],
        },
        output_schema={"type": "object", "properties": {"answer": {}}},
    )
    broken = node(tk.FILL_TEMPLATE, format="{% broken", values={}).model_copy(
        update={"metadata": {"customized_name": "broken"}}
    )
    out = output_node("answer")
    links = [
        link(task, "result", orch, "prompt", static=True),
        link(orch, "tools_^_add_~_a", calc, "a"),
        link(orch, "tools_^_add_~_b", calc, "b"),
        link(orch, "tools_^_lookup_~_q", sub, "q"),
        link(orch, "tools_^_broken_~_values_#_x", broken, "values_#_x"),
        link(calc, "result", orch, "last_tool_output"),
        link(sub, "answer", orch, "last_tool_output"),
        link(orch, "finished", out, "value"),
    ]
    if not agent_mode:
        links.append(link(orch, "conversations", orch, "conversation_history"))
    nodes = {"orch": orch, "calc": calc, "sub": sub, "broken": broken}
    return tk.graph([task, orch, calc, sub, broken, out], links), nodes


async def run_conversation(
    database_url: str, tmp_path: Path, replies: list[Any], *, agent_mode: bool
) -> tuple[FakeLlm, Any, list[Any], dict[str, Node]]:
    fake = FakeLlm()
    fake.replies = replies
    async with serve(fake.app()) as url:
        settings = tk.exec_settings(
            database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key="sk-test"
        )
        async with tk.exec_platform(settings) as platform:
            child = await tk.save_graph(platform.db, USER, lookup_graph())
            g, nodes = orchestrator_graph(child, agent_mode=agent_mode)
            row, rows = await tk.run_graph(platform, g, {"task": "Add 2 and 3"}, timeout=30)
    return fake, row, rows, nodes


def of(rows: list[Any], n: Node) -> list[Any]:
    return [r for r in rows if r.node_id == n.id]


THREE_STEPS = [
    call("call_add", "add", {"a": 2, "b": 3}),
    call("call_lookup", "lookup", {"q": "five"}),
    "2 + 3 = 5; looked up: five.",
]


async def test_a_three_step_tool_conversation_along_the_links(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake, row, rows, nodes = await run_conversation(
        autoplat_database_url, tmp_path, list(THREE_STEPS), agent_mode=False
    )
    assert row.status == "COMPLETED", row.error
    assert row.outputs == {"answer": ["2 + 3 = 5; looked up: five."]}
    first, second, third = fake.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["add", "lookup", "broken"]
    lookup = first["tools"][1]["function"]
    assert lookup["description"] == "Looks a word up."
    assert lookup["parameters"]["properties"]["q"]["description"] == "The word to look up."
    assert first["messages"][-1]["content"].endswith("Add 2 and 3")
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_add", "content": "5.0"}
    assert third["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_lookup",
        "content": "Looked up: five",
    }
    # One node execution per decision; each tool ran once, as an ordinary node of the run.
    decisions = of(rows, nodes["orch"])
    assert [r.status for r in decisions] == ["COMPLETED"] * 3
    assert [r.output_data.get("finished") for r in decisions][-1] == ["2 + 3 = 5; looked up: five."]
    [calc] = of(rows, nodes["calc"])
    assert calc.input_data["a"] == 2 and calc.output_data["result"] == [5.0]
    assert TOOL_CALLER not in (calc.stats or {})
    [sub] = of(rows, nodes["sub"])
    assert sub.status == "COMPLETED" and sub.output_data["answer"] == ["Looked up: five"]
    assert of(rows, nodes["broken"]) == []
    assert all(r.status != "INCOMPLETE" for r in rows)  # nothing left waiting


async def test_a_three_step_tool_conversation_in_agent_mode(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake, row, rows, nodes = await run_conversation(
        autoplat_database_url, tmp_path, list(THREE_STEPS), agent_mode=True
    )
    assert row.status == "COMPLETED", row.error
    assert row.outputs == {"answer": ["2 + 3 = 5; looked up: five."]}
    assert len(fake.requests) == 3
    assert fake.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_add",
        "content": '{"result": [5.0]}',
    }
    assert fake.requests[2]["messages"][-1]["content"] == '{"answer": ["Looked up: five"]}'
    # The whole loop is ONE node execution; the tools ran inside it and fed nothing back.
    [decision] = of(rows, nodes["orch"])
    assert decision.status == "COMPLETED"
    assert decision.output_data["tool_calls"] == [
        {"name": "add", "arguments": '{"a": 2, "b": 3}'},
        {"name": "lookup", "arguments": '{"q": "five"}'},
    ]
    conversation = decision.output_data["conversations"][0]
    assert [m["role"] for m in conversation] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert decision.stats["llm_call_count"] == 3
    [calc] = of(rows, nodes["calc"])
    [sub] = of(rows, nodes["sub"])
    for tool in (calc, sub):
        assert tool.status == "COMPLETED"
        assert tool.stats[TOOL_CALLER] == decision.id
    assert sub.output_data["answer"] == ["Looked up: five"]
    # The results linked back into last_tool_output started no further decision.
    assert all(r.status != "INCOMPLETE" for r in rows)


async def test_bad_calls_go_back_to_the_model_along_the_links(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    replies = [
        call("bad_name", "nope", {}),
        call("bad_args", "add", {"a": 2, "c": 3}),
        call("call_add", "add", {"a": 2, "b": 3}),
        "It is 5.",
    ]
    fake, row, rows, nodes = await run_conversation(
        autoplat_database_url, tmp_path, replies, agent_mode=False
    )
    assert row.status == "COMPLETED", row.error
    assert row.outputs == {"answer": ["It is 5."]}
    assert len(fake.requests) == 4
    told = [fake.requests[i]["messages"][-1] for i in (1, 2)]
    assert told[0]["tool_call_id"] == "bad_name" and "no tool named 'nope'" in told[0]["content"]
    assert told[1]["tool_call_id"] == "bad_args"
    assert "unknown arguments ['c']" in told[1]["content"]
    assert "missing required arguments ['b']" in told[1]["content"]
    assert fake.requests[3]["messages"][-1]["content"] == "5.0"
    [calc] = of(rows, nodes["calc"])
    assert calc.input_data["b"] == 3
    assert len(of(rows, nodes["orch"])) == 2


async def test_bad_calls_and_failing_tools_go_back_to_the_model_in_agent_mode(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    replies = [
        call("c1", "add", '{"a": 2,'),
        call("c2", "broken", {"values___x": "1"}),
        call("c3", "add", {"a": 2, "b": 3}),
        "It is 5, and the broken tool failed.",
    ]
    fake, row, rows, nodes = await run_conversation(
        autoplat_database_url, tmp_path, replies, agent_mode=True
    )
    # The failed tool node is on record, but its caller handled it: the run completes.
    assert row.status == "COMPLETED", row.error
    assert row.outputs == {"answer": ["It is 5, and the broken tool failed."]}
    assert "not valid JSON" in fake.requests[1]["messages"][-1]["content"]
    failure = fake.requests[2]["messages"][-1]["content"]
    assert failure.startswith("Tool execution failed:")
    [broken] = of(rows, nodes["broken"])
    assert broken.status == "FAILED" and broken.stats[TOOL_CALLER]
    [calc] = of(rows, nodes["calc"])
    assert calc.status == "COMPLETED" and calc.output_data["result"] == [5.0]


# --- the shared agent ------------------------------------------------------------------------


class GoogleMapsSearchStandIn(Block["GoogleMapsSearchStandIn.Input"]):
    """Test-only stand-in for AutoGPT's GoogleMapsSearchBlock: one fixed place."""

    class Input(BlockSchema):
        query: str = pin("", description="What to search for.")
        radius: int = pin(5000, description="Metres around the location.")
        max_results: int = pin(20, description="Most places to return.")

    class Output(BlockOutputSchema):
        place: dict[str, Any] = pin(description="One place found.")

    id = GOOGLE_MAPS
    input_schema = Input
    output_schema = Output

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        yield "place", {"name": "Acme Roasters", "address": "1 High St", "query": input_data.query}


def decision_maker_llm(body: dict[str, Any]) -> Any:
    """The Orchestrator searches once, then answers; the Web Search agent's model answers."""
    if not body.get("tools"):
        return "Jane Doe owns Acme Roasters."
    if any(m.get("role") == "tool" for m in body["messages"]):
        return "<identified_owner_ceo>Name: Jane Doe</identified_owner_ceo>"
    return call("search_1", "web_search", {"question": "Who owns Acme Roasters?"})


@pytest.mark.skipif(not DECISION_MAKER.is_file(), reason=f"{DECISION_MAKER} is absent")
async def test_the_decision_maker_agent_imports_and_runs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    export = json.loads(DECISION_MAKER.read_text())
    fake = FakeLlm()
    fake.responder = decision_maker_llm
    async with serve(fake.app()) as url:
        settings = tk.exec_settings(
            autoplat_database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key="sk-test"
        )
        # The real Maps block has its own stand-in server test (test_shared_agents_run.py);
        # here a fixed place keeps the Orchestrator's conversation the subject.
        blocks = BlockRegistry(
            [
                *(b for b in BlockRegistry.builtin() if b.id != GOOGLE_MAPS),
                GoogleMapsSearchStandIn(),
            ]
        )
        async with Platform(settings, blocks=blocks) as platform:
            graph = await _import(platform, export)
            assert isinstance(graph, Graph)
            run_id = await platform.executions.submit(
                user_id=USER, graph_id=graph.id, graph_version=graph.version, inputs={}
            )
            row = await tk.wait_for_run(platform.db, run_id, timeout=30)
    assert row.status == "COMPLETED", row.error
    assert row.outputs["Results"] == ["Name: Jane Doe"]
    orchestrator_calls = [r for r in fake.requests if r.get("tools")]
    assert len(orchestrator_calls) == 2
    [tool] = orchestrator_calls[0]["tools"]
    assert tool["function"]["name"] == "web_search"  # the sub-agent's graph name
    assert "question" in tool["function"]["parameters"]["properties"]
    prompt = orchestrator_calls[0]["messages"][-1]["content"]
    assert "Acme Roasters" in prompt and "{{BUSINESS_INFO}}" not in prompt
    answer = orchestrator_calls[1]["messages"][-1]
    assert answer["role"] == "tool" and answer["content"] == "Jane Doe owns Acme Roasters."


async def _import(platform: Platform, export: dict[str, Any]) -> Graph | Exception:
    await platform.db.users.ensure(USER)
    try:
        return await GraphService(platform.db.graphs, platform.blocks).create(
            USER, {"graph": export}
        )
    except Exception as exc:  # the refusal is what the caller checks
        return exc


async def test_agent_mode_is_bounded_by_the_node_timeout_tools_included(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    fake = FakeLlm()
    fake.replies = [call("c1", "sleepblock", {"seconds": 30})]
    task = input_node("task")
    orch = node(OrchestratorBlock.id, model="gpt-4o-mini", agent_mode_max_iterations=-1)
    orch = orch.model_copy(update={"metadata": {"timeout": 0.5}})
    sleep = node(tk.SleepBlock.id, value="late")
    g = tk.graph(
        [task, orch, sleep],
        [
            link(task, "result", orch, "prompt", static=True),
            link(orch, "tools_^_sleepblock_~_seconds", sleep, "seconds"),
        ],
    )
    async with serve(fake.app()) as url:
        settings = tk.exec_settings(
            autoplat_database_url, tmp_path, llm_base_url=f"{url}/v1", llm_api_key="sk-test"
        )
        async with tk.exec_platform(settings, extra_blocks=[tk.SleepBlock()]) as platform:
            row, rows = await tk.run_graph(platform, g, {"task": "wait"}, timeout=15)
    assert row.status == "FAILED"
    [decision] = of(rows, orch)
    assert decision.status == "FAILED" and "timed out after 0.5 s" in (decision.error or "")
    [slept] = of(rows, sleep)
    assert slept.status == "TERMINATED" and slept.stats[TOOL_CALLER] == decision.id
