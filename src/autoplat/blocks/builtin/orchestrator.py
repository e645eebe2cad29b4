"""OrchestratorBlock (formerly SmartDecisionMakerBlock): an LLM that decides which node to call.

Its tools are the nodes linked from its ``tools_^_{tool}_~_{field}`` output pins (the
executor's tool hook describes them, :mod:`autoplat.blocks.tooling`). Two modes, AutoGPT's:

- **one decision per node execution** (``agent_mode_max_iterations == 0``): the model is asked
  once; a tool call is emitted as one value per argument on ``tools_^_{node id}_~_{field}``
  pins, which the links carry to the tool node, and the conversation so far on
  ``conversations``. The tool's result comes back through ``last_tool_output`` and the
  conversation through ``conversation_history`` (links back into this node), which starts
  the next decision. An answer without tool calls is emitted on ``finished``.
- **agent mode** (any other value; -1 means no limit): the whole loop runs inside ONE node
  execution; the block runs the tool nodes itself through the hook and feeds their results
  to the model until it answers without tool calls or the iteration limit is reached.

Invariants: a call that names no tool or carries bad arguments is answered with an error tool
result and the model asked again (in one-decision mode at most ``retry`` times, then the node
fails saying why), never an exception that crashes the run; nothing is emitted on a tool pin
before every call of that turn was checked; the conversation stays well formed (every call
answered before the next model turn), in the Chat Completions shape whatever the provider.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockType,
)
from autoplat.blocks.builtin.basic import StoreValueBlock
from autoplat.blocks.builtin.llm import LLM_COSTS, LlmPins, llm_request
from autoplat.blocks.builtin.orchestrator_tools import (
    Tool,
    build_tools,
    check_call,
    error_feedback,
    messages_of,
    pending_tool_calls,
)
from autoplat.blocks.llm.client import call_llm, record_retry
from autoplat.blocks.llm.prompting import render_prompts
from autoplat.blocks.llm.standin import TEST_CREDENTIALS_INPUT, scripted_context
from autoplat.blocks.llm.types import LlmResponse, Message, tool_result_message
from autoplat.blocks.schema import pin
from autoplat.blocks.tooling import (
    TOOLS_KEY,
    ToolNode,
    ToolOutcome,
    ToolRunner,
    tool_pin,
    tool_runner,
)
from autoplat.errors import BlockInputError, BlockRunError

#: Marks the objective messages in a carried conversation (AutoGPT's marker, so conversations
#: exported by AutoGPT are recognised and the objective is not repeated).
OBJECTIVE_PREFIX: Final = "[Main Objective Prompt]: "
DEFAULT_SYSTEM_PROMPT: Final = (
    "Think step by step about which function to call next. Call only the functions listed, "
    "and give each call every argument its schema requires, with the types it asks for. "
    "Once the objective is met, stop calling functions and reply with the final result of "
    "your work."
)
LAST_TURN_PROMPT: Final = (
    OBJECTIVE_PREFIX + "This is your last turn. Finish the task with what you have; if it "
    "cannot be finished, say what was done and what is left. Prefer a final answer to "
    "another tool call."
)
#: The pins the tool loop feeds back into this node.
LOOP_PINS: Final = frozenset({"conversation_history", "last_tool_output"})


class NoToolRunner(BlockRunError):
    """The block runs outside a graph run, so there are no tool nodes to call."""

    code = "orchestrator_no_tool_runner"


class NoToolNodes(BlockRunError):
    """No node is linked from the block's tool pins."""

    code = "orchestrator_no_tools"


class ToolOutputMissing(BlockInputError):
    """The carried conversation waits for a tool's output that did not come."""

    code = "orchestrator_tool_output_missing"


class NoValidToolCall(BlockRunError):
    """The model kept making calls that could not be run (one-decision mode)."""

    code = "orchestrator_bad_tool_calls"


class ExecutionMode(enum.StrEnum):
    """How tool calls are run (AutoGPT's values)."""

    BUILT_IN = "built_in"
    #: AutoGPT hands the loop to an agent SDK; here it runs the built-in loop inside the
    #: node, without an iteration limit (the node's timeout bounds it).
    EXTENDED_THINKING = "extended_thinking"


def _outcome_text(outcome: ToolOutcome) -> str:
    """What the model is told of one tool run."""
    if outcome.failed:
        return f"Tool execution failed: {outcome.error}"
    if not outcome.outputs:
        return "Tool executed successfully"
    return json.dumps(outcome.outputs, default=str)


class OrchestratorBlock(Block["OrchestratorBlock.Input"]):
    """Let an LLM call the nodes linked from its tool pins, one decision or a whole loop."""

    class Input(LlmPins):
        prompt: str = pin(
            description="What the model should achieve ({{name}} filled from prompt_values).",
            placeholder="Enter your prompt here...",
        )
        multiple_tool_calls: bool = pin(
            False,
            title="Multiple Tool Calls",
            description="Let the model make several tool calls in one answer.",
        )
        sys_prompt: str = pin(
            DEFAULT_SYSTEM_PROMPT,
            title="System Prompt",
            description="Instructions for the model besides the prompt.",
        )
        conversation_history: list[dict[str, Any]] | None = pin(
            default_factory=list,
            description="The conversation so far (linked from this node's conversations).",
        )
        last_tool_output: Any = pin(
            None, description="The result of the tool called last (linked from the tool)."
        )
        retry: int = pin(
            3,
            title="Retry Count",
            description="How often the model may correct calls that cannot be run.",
        )
        prompt_values: dict[str, str] = pin(
            default_factory=dict,
            advanced=False,
            description="Values for the {{name}} placeholders of the prompts.",
        )
        max_tokens: int | None = pin(None, description="Largest answer length in tokens.")
        agent_mode_max_iterations: int = pin(
            0,
            title="Agent Mode Max Iterations",
            description="0: one decision per run, tool calls are emitted for the graph to "
            "run; -1: agent mode without a limit; N > 0: agent mode for at most N model "
            "turns. Agent mode runs the tools inside this node.",
        )
        execution_mode: ExecutionMode = pin(
            ExecutionMode.BUILT_IN,
            title="Execution Mode",
            description="built_in: the tool loop of this block. extended_thinking: accepted "
            "for compatibility; runs the built-in agent loop without an iteration limit.",
        )
        conversation_compaction: bool = pin(
            True,
            title="Context window auto-compaction",
            description="Accepted for compatibility; conversations are sent as they are.",
        )

    class Output(BlockOutputSchema):
        tools: Any = pin(description="The tool calls (linked to the tool nodes' inputs).")
        finished: str = pin(description="The model's final answer (no more tool calls).")
        conversations: list[Any] = pin(description="The conversation so far.")

    id = "3b191d9f-356f-482d-8238-ba04b6d18381"
    description = "Uses AI to intelligently decide what tool to use."
    categories = (BlockCategory.AI,)
    # AI blocks emit on dynamic pins (tools_^_...), which an output check would refuse.
    block_type = BlockType.AI
    input_schema = Input
    output_schema = Output
    costs = LLM_COSTS
    #: Links into these pins do not hold a node execution back (see input_pending).
    ungated_pins: ClassVar[frozenset[str]] = LOOP_PINS
    test_input = [
        {"prompt": "Hello, World!", "credentials": TEST_CREDENTIALS_INPUT},
        {"prompt": "Keep 'hi'.", "credentials": TEST_CREDENTIALS_INPUT},
        {
            "prompt": "Keep 'hi', then say so.",
            "agent_mode_max_iterations": 3,
            "credentials": TEST_CREDENTIALS_INPUT,
        },
        {
            "prompt": "Call the tool with broken arguments.",
            "agent_mode_max_iterations": 2,
            "credentials": TEST_CREDENTIALS_INPUT,
        },
    ]
    test_output = [
        ("tool_functions", lambda s: json.loads(s)[0]["function"]["name"] == "storevalueblock"),
        ("finished", "Hello! There is nothing to do."),
        ("tool_functions", str),
        (tool_pin("standin-tool", "input"), "hi"),
        (
            "conversations",
            lambda c: c[-1]["tool_calls"][0]["function"]["name"] == "storevalueblock",
        ),
        ("tool_functions", str),
        ("tool_calls", {"name": "storevalueblock", "arguments": '{"input": "hi"}'}),
        ("finished", "Kept it."),
        ("conversations", lambda c: c[-2] == tool_result_message("call_2", '{"output": ["hi"]}')),
        ("tool_functions", str),
        ("tool_calls", {"name": "storevalueblock", "arguments": "{broken"}),
        ("finished", "The call was broken."),
        ("conversations", lambda c: c[-2]["is_error"] and "not valid JSON" in c[-2]["content"]),
    ]

    @staticmethod
    def input_pending(data: Mapping[str, Any]) -> bool:
        """Whether a node execution with ``data`` must wait (AutoGPT's missing-input rule).

        A conversation with an unanswered call waits for the tool's output, and a tool's
        output waits for the conversation whose call it answers.
        """
        waiting = pending_tool_calls(data.get("conversation_history"))
        has_output = data.get("last_tool_output") is not None
        return not has_output if waiting else has_output

    def test_context(self, context: BlockContext) -> BlockContext:
        """Offline stand-ins: a scripted model and one StoreValueBlock tool node."""
        scripted = scripted_context(
            context,
            [
                "Hello! There is nothing to do.",
                _call("call_1", "storevalueblock", '{"input": "hi"}'),
                _call("call_2", "storevalueblock", '{"input": "hi"}'),
                "Kept it.",
                _call("call_3", "storevalueblock", "{broken"),
                "The call was broken.",
            ],
        )
        scripted.extra[TOOLS_KEY] = _StandInTools()
        return scripted

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        runner = tool_runner(context)
        if runner is None:
            raise NoToolRunner("the Orchestrator calls tool nodes, so it runs only in a graph")
        nodes = await runner.tool_nodes()
        if not nodes:
            raise NoToolNodes("no tool nodes: link this node's tool pins to the nodes to call")
        tools = build_tools(nodes)
        yield "tool_functions", json.dumps([tool.wire_form() for tool in tools])

        conversation = messages_of(input_data.conversation_history)
        waiting = pending_tool_calls(conversation)
        output = input_data.last_tool_output
        if waiting:
            if output is None:
                raise ToolOutputMissing(f"the conversation waits for the output of {waiting}")
            # A tool's output answers the oldest open call (the order the tools were called).
            conversation.append(tool_result_message(waiting[0], output))
            if pending_tool_calls(conversation):
                yield "conversations", conversation  # more outputs to wait for first
                return
        elif output:
            conversation.append(
                {
                    "role": "user",
                    "content": f"Output of the last tool: {json.dumps(output, default=str)}",
                }
            )
        await _add_objective(conversation, input_data)

        limit = input_data.agent_mode_max_iterations
        if input_data.execution_mode == ExecutionMode.EXTENDED_THINKING:
            limit = -1
        if limit:
            loop = self._agent_loop(context, input_data, conversation, tools, runner, limit)
            async for item in loop:
                yield item
            return
        async for item in self._decide(context, input_data, conversation, tools):
            yield item

    async def _decide(
        self,
        context: BlockContext,
        input_data: Input,
        conversation: list[Message],
        tools: list[Tool],
    ) -> BlockOutput:
        """One decision: emit the calls for the graph to run, or the final answer."""
        attempts = max(1, input_data.retry)
        problems: list[str] = []
        for attempt in range(attempts):
            if attempt:
                record_retry(context)
            response = await _ask(context, input_data, conversation, tools)
            if not response.tool_calls:
                yield "finished", response.text
                return
            checked = [check_call(call, tools) for call in response.tool_calls]
            problems = [c for c in checked if isinstance(c, str)]
            if not problems:
                for good in checked:
                    assert not isinstance(good, str)
                    for field_name, value in good.pin_values():
                        yield tool_pin(good.tool.node_id, field_name), value
                conversation.append(response.message)
                yield "conversations", conversation
                return
            # Nothing of this turn runs: every call is answered, the bad ones say why.
            conversation.append(response.message)
            for call, result in zip(response.tool_calls, checked, strict=True):
                reason = result if isinstance(result, str) else "another call of this turn was bad"
                conversation.append(
                    tool_result_message(call.id, error_feedback(reason), is_error=True)
                )
        raise NoValidToolCall(
            f"the model made no call that could be run in {attempts} attempts: "
            + "; ".join(problems)
        )

    async def _agent_loop(
        self,
        context: BlockContext,
        input_data: Input,
        conversation: list[Message],
        tools: list[Tool],
        runner: ToolRunner,
        limit: int,
    ) -> BlockOutput:
        """Agent mode: call, run the tools here, answer the model, until it is done.

        ``limit`` bounds the model turns (< 0: no bound but the node's timeout).
        """
        turns = 0
        while limit < 0 or turns < limit:
            turns += 1
            messages = list(conversation)
            if limit > 0 and turns == limit:
                messages.append({"role": "system", "content": LAST_TURN_PROMPT})
            response = await _ask(context, input_data, messages, tools)
            if not response.tool_calls:
                if response.reasoning:
                    reasoning = f"[Reasoning]: {response.reasoning}"
                    conversation.append({"role": "assistant", "content": reasoning})
                conversation.append(response.message)
                yield "finished", response.text
                yield "conversations", conversation
                return
            results: list[Message] = []
            for call in response.tool_calls:
                yield "tool_calls", {"name": call.name, "arguments": call.arguments}
                checked = check_call(call, tools)
                if isinstance(checked, str):
                    results.append(
                        tool_result_message(call.id, error_feedback(checked), is_error=True)
                    )
                    continue
                outcome = await runner.run_tool(checked.tool.node_id, dict(checked.pin_values()))
                results.append(
                    tool_result_message(call.id, _outcome_text(outcome), is_error=outcome.failed)
                )
            conversation.append(response.message)
            conversation.extend(results)
        yield "finished", f"Agent mode stopped after {turns} iterations (the limit)"
        yield "conversations", conversation


async def _add_objective(conversation: list[Message], input_data: OrchestratorBlock.Input) -> None:
    """Append the system prompt and the prompt, unless the conversation carries them."""
    prompt, sys_prompt = await render_prompts(
        input_data.prompt, input_data.sys_prompt, dict(input_data.prompt_values)
    )

    def carried(role: str) -> bool:
        return any(
            m.get("role") == role
            and isinstance(m.get("content"), str)
            and m["content"].startswith(OBJECTIVE_PREFIX)
            for m in conversation
        )

    if sys_prompt and not carried("system"):
        conversation.append({"role": "system", "content": OBJECTIVE_PREFIX + sys_prompt})
    if prompt and not carried("user"):
        conversation.append({"role": "user", "content": OBJECTIVE_PREFIX + prompt})


async def _ask(
    context: BlockContext,
    input_data: OrchestratorBlock.Input,
    messages: list[Message],
    tools: Sequence[Tool],
) -> LlmResponse:
    """One model turn with the tools on offer."""
    request = llm_request(
        input_data,
        messages,
        max_tokens=input_data.max_tokens,
        tools=[tool.definition for tool in tools],
        parallel_tool_calls=input_data.multiple_tool_calls,
    )
    return await call_llm(context, request, reference=input_data.credentials)


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A scripted assistant turn making one tool call (self-test)."""
    function = {"name": name, "arguments": arguments}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


class _StandInTools:
    """Self-test stand-in for the executor's hook: one StoreValueBlock node, run in place."""

    async def tool_nodes(self) -> Sequence[ToolNode]:
        return [ToolNode("standin-tool", StoreValueBlock(), ("input",))]

    async def run_tool(self, node_id: str, inputs: Mapping[str, Any]) -> ToolOutcome:
        # What StoreValueBlock emits when given only its trigger.
        return ToolOutcome({"output": [inputs.get("input")]})
