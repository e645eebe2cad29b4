"""LLM text and structured-response blocks (blocks.md §3.14), on every provider of the table.

Every LLM block shares :class:`LlmPins`: ``model`` (validated against the model table),
``credentials`` (a reference; the executor resolves it into ``context.credentials``) and
``ollama_host``; :func:`generate_structured` is AutoGPT's structured-answer loop, which the
other LLM blocks reuse.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.llm.client import call_llm, record_retry
from autoplat.blocks.llm.credentials import LlmCredentialsRef, credentials_pin_extra, llm_costs
from autoplat.blocks.llm.models import (
    DEFAULT_MAX_OUTPUT,
    DEFAULT_MODEL,
    model_info,
    model_pin_schema,
    resolve_model,
)
from autoplat.blocks.llm.prompting import (
    format_instructions,
    new_tag,
    parse_structured,
    render_prompts,
)
from autoplat.blocks.llm.routing import DEFAULT_OLLAMA_HOST
from autoplat.blocks.llm.types import LlmContextTooLong, LlmRequest, Message
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError

#: The ``model`` pin's type: a table name (prefixed and retired names resolve to one).
ModelName = Annotated[str, AfterValidator(resolve_model)]
#: The price list every LLM block shares (see ``blocks.llm.credentials``).
LLM_COSTS = llm_costs()
# Offline vector: with nothing configured the blocks fail with a message naming the settings.
OFFLINE_ERROR = [("error", lambda msg: "AUTOPLAT_LLM_BASE_URL" in msg)]


class LlmModelPins(BlockSchema):
    """The ``model`` and ``credentials`` pins every LLM block has."""

    model: ModelName = pin(
        DEFAULT_MODEL,
        advanced=False,
        title="LLM Model",
        description="The language model to use.",
        **model_pin_schema(),
    )
    credentials: LlmCredentialsRef | None = pin(
        None,
        advanced=False,
        title="Credentials",
        description="API key for the LLM provider. Without one the platform's key for the "
        "model's provider is used (and charged).",
        **credentials_pin_extra(),
    )


class LlmPins(LlmModelPins):
    """The pins of AutoGPT's ``llm.py`` blocks: model, credentials and ``ollama_host``."""

    ollama_host: str = pin(DEFAULT_OLLAMA_HOST, description="Ollama host for local models.")


def llm_request(pins: LlmModelPins, messages: list[Message], **options: Any) -> LlmRequest:
    """A request for the node's model and Ollama host (when the block has that pin)."""
    host = pins.ollama_host if isinstance(pins, LlmPins) else ""
    return LlmRequest(model=pins.model, messages=messages, ollama_host=host, **options)


@dataclass(slots=True)
class StructuredRequest:
    """Everything one structured generation needs."""

    prompt: str
    pins: LlmPins
    expected_format: dict[str, str] = field(default_factory=dict)
    list_result: bool = False
    sys_prompt: str = ""
    conversation_history: list[Message] = field(default_factory=list)
    retry: int = 3
    prompt_values: dict[str, Any] = field(default_factory=dict)
    max_tokens: int | None = None
    force_json_output: bool = False


def _shrunk(max_tokens: int | None, model: str) -> int:
    """15 % less than the current answer budget (AutoGPT's step on context-length errors)."""
    info = model_info(model)
    current = max_tokens or (info.output_limit if info else DEFAULT_MAX_OUTPUT)
    return max(1, int(current * 0.85))


async def generate_structured(
    context: BlockContext, request: StructuredRequest
) -> tuple[dict[str, Any] | list[dict[str, Any]], list[Message]]:
    """Ask for (and check) a JSON answer with the expected keys, retrying with corrections.

    With an empty ``expected_format`` the raw text comes back as ``{"response": text}``.
    Returns the answer and the messages sent for it (retry turns included). A context-length
    refusal shrinks the answer budget by 15 % and counts as a retry.
    """
    prompt, sys_prompt = await render_prompts(
        request.prompt, request.sys_prompt, request.prompt_values
    )
    messages: list[Message] = copy.deepcopy([m for m in request.conversation_history if m])
    if sys_prompt:
        messages.append({"role": "system", "content": sys_prompt})
    tag = new_tag()
    if request.expected_format:
        instructions = format_instructions(request.expected_format, request.list_result, tag)
        if request.force_json_output and request.list_result:
            instructions += ' In pure JSON mode, return {"results": [...]} instead of an array.'
        messages.append({"role": "system", "content": instructions})
    if prompt:
        messages.append({"role": "user", "content": prompt})

    problem = ""
    max_tokens = request.max_tokens
    attempts = max(1, request.retry)
    for attempt in range(attempts):
        if attempt:
            record_retry(context)
        try:
            reply = await call_llm(
                context,
                llm_request(
                    request.pins,
                    messages,
                    max_tokens=max_tokens,
                    json_output=request.force_json_output and bool(request.expected_format),
                ),
                reference=request.pins.credentials,
            )
        except LlmContextTooLong:
            if attempt == attempts - 1:
                raise
            max_tokens = _shrunk(max_tokens, request.pins.model)
            continue
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
    costs = LLM_COSTS
    test_input = [{"prompt": "Name a colour", "expected_format": {"colour": "a colour"}}]
    test_output = list(OFFLINE_ERROR)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        answer, messages = await generate_structured(
            context,
            StructuredRequest(
                prompt=input_data.prompt,
                pins=input_data,
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
    costs = LLM_COSTS
    test_input = [{"prompt": "Say hi"}]
    test_output = list(OFFLINE_ERROR)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        answer, messages = await generate_structured(
            context,
            StructuredRequest(
                prompt=input_data.prompt,
                pins=input_data,
                sys_prompt=input_data.sys_prompt,
                retry=input_data.retry,
                prompt_values=dict(input_data.prompt_values),
                max_tokens=input_data.max_tokens,
            ),
        )
        text = answer["response"] if isinstance(answer, dict) else ""
        yield "response", text
        yield "prompt", messages
