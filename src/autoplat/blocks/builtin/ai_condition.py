"""AIConditionBlock: an LLM decides whether a value meets a condition written in plain words.

Semantics are AutoGPT's: the model is asked for ``true`` or ``false`` only; an answer that is
neither (nor one unambiguous yes/no word) fails the node with "Unclear AI response"; the
value passed on is ``yes_value`` / ``no_value``, or ``input_value`` when those are empty, on
``yes_output`` / ``no_output`` after ``result``, as ConditionBlock does.
"""

from __future__ import annotations

import re
from typing import Any, Final

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
)
from autoplat.blocks.builtin.llm import LLM_COSTS, LlmModelPins, llm_request
from autoplat.blocks.llm.client import call_llm
from autoplat.blocks.llm.models import DEFAULT_MODEL, OPENAI, model_info
from autoplat.blocks.llm.standin import TEST_CREDENTIALS_INPUT, scripted_context
from autoplat.blocks.schema import pin

#: Answer budget: a true/false fits in AutoGPT's 16 tokens; reasoning models think first
#: within the same budget, so they get room for it.
ANSWER_TOKENS: Final = 16
REASONING_ANSWER_TOKENS: Final = 2048
_POSITIVE: Final = frozenset({"true", "yes", "1"})
_NEGATIVE: Final = frozenset({"false", "no", "0"})
_SYSTEM_PROMPT: Final = (
    "You decide whether a value meets a condition. Answer with exactly one lowercase word: "
    "'true' if the value meets the condition, 'false' if it does not. Judge by the meaning "
    "of both the value and the condition."
)


def parse_boolean(text: str) -> tuple[bool, str | None]:
    """``(result, None)`` for a clear answer, ``(False, why)`` for an unclear one.

    Clear: exactly ``true``/``false``, or text whose only yes/no words (whole words) are one
    word repeated (``Yes.``, ``1``); anything mixed or missing is unclear.
    """
    answer = text.strip().lower()
    if answer in ("true", "false"):
        return answer == "true", None
    words = set(re.findall(r"\b(?:true|false|yes|no|1|0)\b", answer))
    if len(words) == 1:
        word = next(iter(words))
        return word in _POSITIVE, None
    return False, f"Unclear AI response: '{text}'"


def _answer_tokens(model: str) -> int:
    info = model_info(model)
    reasoning = info is not None and info.provider == OPENAI and model.startswith(("o", "gpt-5"))
    return REASONING_ANSWER_TOKENS if reasoning and model != "gpt-5-chat-latest" else ANSWER_TOKENS


class AIConditionBlock(Block["AIConditionBlock.Input"]):
    """Evaluate a natural-language condition on a value with an LLM and branch on it."""

    class Input(LlmModelPins):
        input_value: Any = pin(
            advanced=False, description="The value to evaluate with the AI condition."
        )
        condition: str = pin(
            advanced=False,
            description="The condition in plain English (e.g. 'the input is an email address').",
        )
        yes_value: Any = pin(
            None, description="Output when the condition is true (empty: the input value)."
        )
        no_value: Any = pin(
            None, description="Output when the condition is false (empty: the input value)."
        )

    class Output(BlockOutputSchema):
        result: bool = pin(description="Whether the condition is met.")
        yes_output: Any = pin(description="The value passed on when the condition is true.")
        no_output: Any = pin(description="The value passed on when the condition is false.")

    id = "553ec5b8-6c45-4299-8d75-b394d05f72ff"
    description = "Uses AI to evaluate natural language conditions and provide conditional outputs"
    categories = (BlockCategory.AI, BlockCategory.LOGIC)
    input_schema = Input
    output_schema = Output
    costs = LLM_COSTS
    test_input = [
        {
            "input_value": "john@example.com",
            "condition": "the input is an email address",
            "yes_value": "Valid email",
            "no_value": "Not an email",
            "model": DEFAULT_MODEL,
            "credentials": TEST_CREDENTIALS_INPUT,
        }
    ]
    test_output = [("result", True), ("yes_output", "Valid email")]

    def test_context(self, context: BlockContext) -> BlockContext:
        """The self-test's stand-in LLM (AutoGPT mocks the call to answer ``true``)."""
        return scripted_context(context, ["true"])

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        value = input_data.input_value
        yes_value = value if input_data.yes_value is None else input_data.yes_value
        no_value = value if input_data.no_value is None else input_data.no_value
        messages = [
            {"role": "system", "content": _SYSTEM_PROMPT},
            {
                "role": "user",
                "content": f"Value: {value}\nCondition: {input_data.condition}\n\n"
                "Does the value meet the condition? Answer 'true' or 'false' only.",
            },
        ]
        reply = await call_llm(
            context,
            llm_request(input_data, messages, max_tokens=_answer_tokens(input_data.model)),
            reference=input_data.credentials,
        )
        result, unclear = parse_boolean(reply.text)
        if unclear:
            yield "error", unclear
        yield "result", result
        if result:
            yield "yes_output", yes_value
        else:
            yield "no_output", no_value
