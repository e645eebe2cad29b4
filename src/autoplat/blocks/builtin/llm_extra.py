"""Further LLM blocks used by sample agents: conversation, summary, list generation.

They share the LLM pins, routing and prices of ``builtin.llm``.
"""

from __future__ import annotations

import enum
from typing import Any

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
)
from autoplat.blocks.builtin.lists import estimate_tokens
from autoplat.blocks.builtin.llm import (
    LLM_COSTS,
    OFFLINE_ERROR,
    LlmPins,
    StructuredRequest,
    generate_structured,
    llm_request,
)
from autoplat.blocks.llm.client import call_llm
from autoplat.blocks.llm.types import Message
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError


class AIConversationBlock(Block["AIConversationBlock.Input"]):
    """Continue a conversation (a list of chat messages) with an LLM."""

    class Input(LlmPins):
        prompt: str = pin("", advanced=False, description="Optional new user message.")
        messages: list[Any] = pin(description="The conversation so far ({role, content}).")
        max_tokens: int | None = pin(None, description="Largest answer length in tokens.")

    class Output(BlockOutputSchema):
        response: str = pin(description="The model's reply.")
        prompt: list[Any] = pin(description="The messages sent.")

    id = "32a87eab-381e-4dd4-bdb8-4c47151be35a"
    description = "Continues a conversation with an LLM."
    categories = (BlockCategory.AI,)
    input_schema = Input
    output_schema = Output
    costs = LLM_COSTS
    test_input = [{"messages": [{"role": "user", "content": "hello"}]}]
    test_output = list(OFFLINE_ERROR)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        messages: list[Message] = [
            m if isinstance(m, dict) else {"role": "user", "content": str(m)}
            for m in input_data.messages
        ]
        if input_data.prompt:
            messages.append({"role": "user", "content": input_data.prompt})
        if not messages:
            raise BlockRunError("the conversation is empty")
        reply = await call_llm(
            context,
            llm_request(input_data, messages, max_tokens=input_data.max_tokens),
            reference=input_data.credentials,
        )
        yield "response", reply.text
        yield "prompt", messages


class SummaryStyle(enum.StrEnum):
    """Styles of AITextSummarizerBlock."""

    CONCISE = "concise"
    DETAILED = "detailed"
    BULLET_POINTS = "bullet points"
    NUMBERED_LIST = "numbered list"


def split_for_summary(text: str, max_tokens: int, overlap: int) -> list[str]:
    """Chunks of about ``max_tokens`` estimated tokens, overlapping by ``overlap`` tokens."""
    size = max(1, max_tokens) * 4
    step = max(1, size - max(0, overlap) * 4)
    if estimate_tokens(text) <= max_tokens:
        return [text]
    return [text[start : start + size] for start in range(0, len(text), step)]


class AITextSummarizerBlock(Block["AITextSummarizerBlock.Input"]):
    """Summarise a text with an LLM, chunk by chunk for long texts."""

    class Input(LlmPins):
        text: str = pin(description="Text to summarise.")
        focus: str = pin("general information", description="What the summary focuses on.")
        style: SummaryStyle = pin(SummaryStyle.CONCISE, description="Summary style.")
        max_tokens: int = pin(4096, description="Chunk size in tokens for long texts.")
        chunk_overlap: int = pin(100, description="Overlap between chunks in tokens.")

    class Output(BlockOutputSchema):
        summary: str = pin(description="The summary.")
        prompt: list[Any] = pin(description="The messages of the last call.")

    id = "a0a69be1-4528-491c-a85a-a4ab6873e3f0"
    description = "Summarises a text with an LLM."
    categories = (BlockCategory.AI, BlockCategory.TEXT)
    input_schema = Input
    output_schema = Output
    costs = LLM_COSTS
    test_input = [{"text": "A long story."}]
    test_output = list(OFFLINE_ERROR)

    async def _summarise(
        self, context: BlockContext, input_data: Input, text: str
    ) -> tuple[str, list[Message]]:
        answer, messages = await generate_structured(
            context,
            StructuredRequest(
                prompt=(
                    f"Summarise the following text in a {input_data.style.value} style, "
                    f"focusing on {input_data.focus}:\n\n{text}"
                ),
                pins=input_data,
                expected_format={"summary": "the summary of the text"},
            ),
        )
        summary = answer.get("summary", "") if isinstance(answer, dict) else ""
        return str(summary), messages

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        chunks = split_for_summary(input_data.text, input_data.max_tokens, input_data.chunk_overlap)
        summaries: list[str] = []
        messages: list[Message] = []
        for chunk in chunks:
            summary, messages = await self._summarise(context, input_data, chunk)
            summaries.append(summary)
        final = summaries[0]
        if len(summaries) > 1:
            final, messages = await self._summarise(context, input_data, "\n\n".join(summaries))
        yield "summary", final
        yield "prompt", messages


class AIListGeneratorBlock(Block["AIListGeneratorBlock.Input"]):
    """Ask an LLM for a list of strings, then emit the list and each item."""

    class Input(LlmPins):
        focus: str | None = pin(None, advanced=False, description="What the list is about.")
        source_data: str | None = pin(None, advanced=False, description="Data to draw from.")
        max_retries: int = pin(3, description="Attempts at a well-formed answer.")
        force_json_output: bool = pin(False, description="Use the provider's JSON mode.")
        max_tokens: int | None = pin(None, description="Largest answer length in tokens.")

    class Output(BlockOutputSchema):
        generated_list: list[str] = pin(description="The whole list.")
        list_item: str = pin(description="One item (emitted once per item).")
        prompt: list[Any] = pin(description="The messages sent.")

    id = "9c0b0450-d199-458b-a731-072189dd6593"
    description = "Generates a list with an LLM."
    categories = (BlockCategory.AI, BlockCategory.TEXT)
    input_schema = Input
    output_schema = Output
    costs = LLM_COSTS
    test_input = [{"focus": "three fruits"}]
    test_output = list(OFFLINE_ERROR)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        parts = [f"Generate a list: {input_data.focus or 'a useful list'}."]
        if input_data.source_data:
            parts.append(f"Use only this data:\n{input_data.source_data}")
        answer, messages = await generate_structured(
            context,
            StructuredRequest(
                prompt="\n\n".join(parts),
                pins=input_data,
                expected_format={"list": "a JSON array of strings, one per list item"},
                retry=input_data.max_retries,
                max_tokens=input_data.max_tokens,
                force_json_output=input_data.force_json_output,
            ),
        )
        raw = answer.get("list") if isinstance(answer, dict) else None
        if not isinstance(raw, list):
            raise BlockRunError("the LLM did not return a list")
        items = [item if isinstance(item, str) else str(item) for item in raw]
        yield "generated_list", items
        for item in items:
            yield "list_item", item
        yield "prompt", messages
