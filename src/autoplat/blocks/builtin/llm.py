"""LLM text and structured-response blocks (blocks.md §3.14), on an OpenAI-compatible API."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.llm_client import (
    DEFAULT_MODEL,
    MODEL_COSTS,
    Message,
    chat_completion,
    format_instructions,
    new_tag,
    parse_structured,
    render_prompts,
)
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError


class LlmPins(BlockSchema):
    """Pins every LLM block shares; ``credentials`` is accepted for compatibility and ignored."""

    model: str = pin(DEFAULT_MODEL, advanced=False, title="LLM Model")
    credentials: dict[str, Any] | None = pin(
        None,
        advanced=False,
        description="Ignored: autoplat uses the operator's configured LLM endpoint and key.",
    )
    ollama_host: str = pin("localhost:11434", description="Ignored (kept for compatibility).")


@dataclass(slots=True)
class StructuredRequest:
    """Everything one structured generation needs."""

    prompt: str
    model: str
    expected_format: dict[str, str] = field(default_factory=dict)
    list_result: bool = False
    sys_prompt: str = ""
    conversation_history: list[Message] = field(default_factory=list)
    retry: int = 3
    prompt_values: dict[str, Any] = field(default_factory=dict)
    max_tokens: int | None = None
    force_json_output: bool = False


async def generate_structured(
    context: BlockContext, request: StructuredRequest
) -> tuple[dict[str, Any] | list[dict[str, Any]], list[Message]]:
    """Ask for (and check) a JSON answer with the expected keys, retrying with corrections.

    With an empty ``expected_format`` the raw text comes back as ``{"response": text}``.
    Returns the answer and the messages sent for it (retry turns included).
    """
    prompt, sys_prompt = await render_prompts(
        request.prompt, request.sys_prompt, request.prompt_values
    )
    messages: list[Message] = copy.deepcopy(request.conversation_history)
    if sys_prompt:
        messages.append({"role": "system", "content": sys_prompt})
    tag = new_tag()
    if request.expected_format:
        instructions = format_instructions(request.expected_format, request.list_result, tag)
        if request.force_json_output and request.list_result:
            instructions += ' In pure JSON mode, return {"results": [...]} instead of an array.'
        messages.append({"role": "system", "content": instructions})
    messages.append({"role": "user", "content": prompt})

    problem = ""
    for _ in range(max(1, request.retry)):
        reply = await chat_completion(
            context,
            model=request.model,
            messages=messages,
            max_tokens=request.max_tokens,
            json_mode=request.force_json_output and bool(request.expected_format),
        )
        if not request.expected_format:
            return {"response": reply.text}, messages
        try:
            answer = parse_structured(reply.text, request.expected_format, request.list_result, tag)
        except ValueError as exc:
            problem = str(exc)
            messages.append({"role": "assistant", "content": reply.text})
            messages.append(
                {
                    "role": "user",
                    "content": f"That reply was not usable ({problem}). Answer again, "
                    f'following the format exactly, inside <json_output id="{tag}"> tags.',
                }
            )
            continue
        return answer, messages
    raise BlockRunError(f"the LLM did not produce the expected format: {problem}")


class AIStructuredResponseGeneratorBlock(Block["AIStructuredResponseGeneratorBlock.Input"]):
    """Ask an LLM for a JSON object (or list of objects) with given keys."""

    class Input(LlmPins):
        prompt: str = pin(description="The user prompt ({{name}} filled from prompt_values).")
        expected_format: dict[str, str] = pin(
            description="Expected keys of the answer, each with a description."
        )
        list_result: bool = pin(False, title="List Result")
        force_json_output: bool = pin(False, title="Restrict LLM to pure JSON output")
        sys_prompt: str = pin("", title="System Prompt")
        conversation_history: list[dict[str, Any]] | None = pin(
            default_factory=list, description="Earlier messages of the conversation."
        )
        retry: int = pin(3, title="Retry Count")
        prompt_values: dict[str, str] = pin(default_factory=dict, advanced=False)
        max_tokens: int | None = pin(None, description="Largest answer length in tokens.")
        compress_prompt_to_fit: bool = pin(True, description="Ignored (kept for compatibility).")

    class Output(BlockOutputSchema):
        response: dict[str, Any] | list[dict[str, Any]] = pin(description="The JSON answer.")
        prompt: list[Any] = pin(description="The messages sent.")

    id = "ed55ac19-356e-4243-a6cb-bc599e9b716f"
    description = "Generates a structured (JSON) response with an LLM."
    categories = (BlockCategory.AI,)
    input_schema = Input
    output_schema = Output
    costs = MODEL_COSTS
    # Offline vector: with no endpoint configured the block fails with a clear message.
    test_input = [{"prompt": "Name a colour", "expected_format": {"colour": "a colour"}}]
    test_output = [("error", lambda msg: "AUTOPLAT_LLM_BASE_URL" in msg)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        answer, messages = await generate_structured(
            context,
            StructuredRequest(
                prompt=input_data.prompt,
                model=input_data.model,
                expected_format=input_data.expected_format,
                list_result=input_data.list_result,
                sys_prompt=input_data.sys_prompt,
                conversation_history=input_data.conversation_history or [],
                retry=input_data.retry,
                prompt_values=dict(input_data.prompt_values),
                max_tokens=input_data.max_tokens,
                force_json_output=input_data.force_json_output,
            ),
        )
        yield "response", answer
        yield "prompt", messages


class AITextGeneratorBlock(Block["AITextGeneratorBlock.Input"]):
    """Ask an LLM for plain text."""

    class Input(LlmPins):
        prompt: str = pin(description="The user prompt ({{name}} filled from prompt_values).")
        sys_prompt: str = pin("", title="System Prompt")
        retry: int = pin(3, title="Retry Count")
        prompt_values: dict[str, str] = pin(default_factory=dict, advanced=False)
        max_tokens: int | None = pin(None, description="Largest answer length in tokens.")

    class Output(BlockOutputSchema):
        response: str = pin(description="The generated text.")
        prompt: list[Any] = pin(description="The messages sent.")

    id = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
    description = "Generates text with an LLM."
    categories = (BlockCategory.AI,)
    input_schema = Input
    output_schema = Output
    costs = MODEL_COSTS
    test_input = [{"prompt": "Say hi"}]
    test_output = [("error", lambda msg: "AUTOPLAT_LLM_BASE_URL" in msg)]

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        answer, messages = await generate_structured(
            context,
            StructuredRequest(
                prompt=input_data.prompt,
                model=input_data.model,
                sys_prompt=input_data.sys_prompt,
                retry=input_data.retry,
                prompt_values=dict(input_data.prompt_values),
                max_tokens=input_data.max_tokens,
            ),
        )
        text = answer["response"] if isinstance(answer, dict) else ""
        yield "response", text
        yield "prompt", messages
