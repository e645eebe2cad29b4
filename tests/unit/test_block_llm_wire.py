"""Both wire formats end to end against scripted stand-ins: structured output, a tool-call
round trip, usage, retries (429 with Retry-After, 5xx then success, bounded) and keys kept
out of every error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.llm import AIStructuredResponseGeneratorBlock
from autoplat.blocks.llm.client import RetryPolicy, call_llm, retry_after
from autoplat.blocks.llm.types import (
    LlmApiError,
    LlmContextTooLong,
    LlmRateLimited,
    LlmRequest,
    LlmUnavailable,
    ToolDefinition,
    tool_result_message,
)
from autoplat.blocks.settings import BlockSettings
from autoplat.integrations.model import APIKeyCredentials
from tests.support.servers import FakeAnthropic, FakeLlm, serve

OPENAI_KEY = "sk-user-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-user-0123456789"
WEATHER = ToolDefinition(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


class Sleeps:
    """A RetryPolicy sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeLlm, FakeAnthropic, BlockSettings]]:
    openai, anthropic = FakeLlm(), FakeAnthropic()
    async with serve(openai.app()) as o_url, serve(anthropic.app()) as a_url:
        settings = BlockSettings(
            llm_provider_urls={"openai": f"{o_url}/v1", "anthropic": f"{a_url}/v1"},
            llm_retry_max_wait=5.0,
        )
        yield openai, anthropic, settings


def context_for(settings: BlockSettings, http: httpx.AsyncClient, provider: str) -> BlockContext:
    secret = OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY
    credential = APIKeyCredentials(id=f"c-{provider}", provider=provider, api_key=SecretStr(secret))
    return BlockContext(settings=settings, http=http, credentials={"credentials": credential})


async def test_openai_tool_call_round_trip(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, _, settings = servers
    function = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    call = {"id": "call_1", "type": "function", "function": function}
    openai.replies = [{"role": "assistant", "content": None, "tool_calls": [call]}, "Sunny."]
    async with httpx.AsyncClient() as http:
        context = context_for(settings, http, "openai")
        conversation: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
        request = LlmRequest("gpt-4o", conversation, tools=[WEATHER], parallel_tool_calls=False)
        first = await call_llm(context, request)
        assert first.finish_reason == "tool_calls"
        [tool_call] = first.tool_calls
        assert (tool_call.id, tool_call.name) == ("call_1", "get_weather")
        assert tool_call.parse_arguments() == {"city": "Paris"}
        conversation += [first.message, tool_result_message(tool_call.id, {"temp": 21})]
        second = await call_llm(context, LlmRequest("gpt-4o", conversation, tools=[WEATHER]))
    assert second.text == "Sunny." and second.tool_calls == []
    sent = openai.requests[0]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert sent["parallel_tool_calls"] is False
    follow_up = openai.requests[1]["messages"]
    assert follow_up[1] == {"role": "assistant", "content": "", "tool_calls": [call]}
    assert follow_up[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}
    assert context.extra["llm_usage"]["llm_call_count"] == 2
    assert context.extra["llm_usage"]["input_token_count"] == 22


async def test_anthropic_tool_call_round_trip(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    _, anthropic, settings = servers
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
    anthropic.replies = [[{"type": "text", "text": "Let me check."}, use], "Cold."]
    async with httpx.AsyncClient() as http:
        context = context_for(settings, http, "anthropic")
        conversation: list[dict[str, Any]] = [
            {"role": "system", "content": "You help."},
            {"role": "user", "content": "Weather in Oslo?"},
        ]
        request = LlmRequest(
            "claude-haiku-4-5-20251001", conversation, tools=[WEATHER], tool_choice="required"
        )
        first = await call_llm(context, request)
        [tool_call] = first.tool_calls
        assert first.text == "Let me check." and first.finish_reason == "tool_calls"
        assert tool_call.parse_arguments() == {"city": "Oslo"}
        conversation += [first.message, tool_result_message(tool_call.id, "-3 C", is_error=False)]
        second = await call_llm(
            context, LlmRequest("claude-haiku-4-5-20251001", conversation, tools=[WEATHER])
        )
    assert second.text == "Cold."
    assert second.usage.cache_read_tokens == 2 and second.usage.cache_creation_tokens == 1
    sent = anthropic.requests[0]
    assert sent["_x_api_key"] == ANTHROPIC_KEY
    assert sent["system"] == "You help."
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert sent["tool_choice"] == {"type": "any"}
    turns = anthropic.requests[1]["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [{"type": "text", "text": "Let me check."}, use]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3 C"}
    ]
    usage = context.extra["llm_usage"]
    assert usage["input_token_count"] == 26 and usage["output_token_count"] == 10


async def test_conversations_cross_wire_formats(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, _, settings = servers
    # An AutoGPT conversation exported from a Claude agent, continued on OpenAI.
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Warm"}],
        },
    ]
    async with httpx.AsyncClient() as http:
        await call_llm(context_for(settings, http, "openai"), LlmRequest("gpt-4o", history))
    sent = openai.requests[0]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Rome"}',
    }
    assert sent[1]["content"] == "Checking."
    assert sent[2] == {"role": "tool", "tool_call_id": "t1", "content": "Warm"}


async def test_structured_output_on_both_formats(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, anthropic, settings = servers
    openai.replies = [json.dumps({"name": "Ada"})]
    forced = {"type": "tool_use", "id": "t", "name": "structured_output", "input": {"name": "Bo"}}
    anthropic.replies = [[forced]]
    block = AIStructuredResponseGeneratorBlock()
    data = {"prompt": "A name", "expected_format": {"name": "a name"}, "force_json_output": True}
    answers = []
    async with httpx.AsyncClient() as http:
        for provider, model in (("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-6")):
            context = context_for(settings, http, provider)
            outputs = [pair async for pair in block.execute({**data, "model": model}, context)]
            answers.append(outputs[0])
    assert answers == [("response", {"name": "Ada"}), ("response", {"name": "Bo"})]
    assert openai.requests[0]["response_format"] == {"type": "json_object"}
    sent = anthropic.requests[0]
    assert sent["tool_choice"] == {"type": "tool", "name": "structured_output"}
    assert sent["tools"][0]["input_schema"] == {"type": "object"}
    # The format instructions are system text, which Anthropic gets apart from the turns.
    assert "exactly these keys" in sent["system"]


async def test_429_waits_as_asked_and_5xx_backs_off(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, anthropic, settings = servers
    openai.replies = [
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "2"}),
        (503, {"error": {"message": "busy"}}),
        "finally",
    ]
    sleeps = Sleeps()
    async with httpx.AsyncClient() as http:
        context = context_for(settings, http, "openai")
        policy = RetryPolicy(retries=3, max_wait=5.0, base_delay=0.5, sleep=sleeps)
        reply = await call_llm(
            context, LlmRequest("gpt-4o", [{"role": "user", "content": "x"}]), policy=policy
        )
        assert reply.text == "finally" and len(openai.requests) == 3
        assert sleeps.waits[0] == 2.0  # Retry-After honoured
        assert 0.5 * 2 * 0.75 <= sleeps.waits[1] <= 0.5 * 2 * 1.25  # backoff of retry 2
        assert context.extra["llm_usage"]["llm_retry_count"] == 2
        assert context.extra["llm_usage"]["llm_call_count"] == 1
        # Anthropic's overloaded 529 then success, with retry-after-ms.
        anthropic.replies = [(529, {"type": "error"}, {"retry-after-ms": "150"}), "ok"]
        sleeps.waits.clear()
        reply = await call_llm(
            context_for(settings, http, "anthropic"),
            LlmRequest("claude-3-haiku-20240307", [{"role": "user", "content": "x"}]),
            policy=policy,
        )
    assert reply.text == "ok" and sleeps.waits == [0.15]


async def test_retries_are_bounded(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, _, settings = servers
    request = LlmRequest("gpt-4o", [{"role": "user", "content": "x"}])
    sleeps = Sleeps()
    policy = RetryPolicy(retries=2, max_wait=5.0, sleep=sleeps)
    async with httpx.AsyncClient() as http:
        context = context_for(settings, http, "openai")
        # A wait longer than the bound fails at once, saying so.
        openai.replies = [(429, {"error": {"message": "quota"}}, {"Retry-After": "3600"})]
        with pytest.raises(LlmRateLimited, match="asked to wait 3600 s"):
            await call_llm(context, request, policy=policy)
        assert len(openai.requests) == 1 and sleeps.waits == []
        # Still failing after the retries: the last problem.
        openai.requests.clear()
        openai.replies = [(500, {"error": {"message": "boom"}})]
        with pytest.raises(LlmUnavailable, match="OpenAI answered 500: boom"):
            await call_llm(context, request, policy=policy)
        assert len(openai.requests) == 3 and len(sleeps.waits) == 2
        assert all(w <= 5.0 for w in sleeps.waits)
        # A connection that cannot be made is retried the same way.
        down = BlockSettings(llm_provider_urls={"openai": "http://127.0.0.1:9/v1"})
        with pytest.raises(LlmUnavailable, match="could not be reached") as caught:
            await call_llm(context_for(down, http, "openai"), request, policy=policy)
    assert OPENAI_KEY not in caught.value.message


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


async def test_keys_never_reach_errors(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, anthropic, settings = servers
    openai.replies = [(401, {"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}"}})]
    anthropic.replies = [(403, {"type": "error", "error": {"message": f"bad {ANTHROPIC_KEY}"}})]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "x"}]
    async with httpx.AsyncClient() as http:
        for provider, model, secret in (
            ("openai", "gpt-4o", OPENAI_KEY),
            ("anthropic", "claude-sonnet-4-6", ANTHROPIC_KEY),
        ):
            with pytest.raises(LlmApiError) as caught:
                await call_llm(context_for(settings, http, provider), LlmRequest(model, messages))
            assert secret not in str(caught.value) and "***" in str(caught.value)


async def test_context_length_refusals_shrink_the_answer_budget(
    servers: tuple[FakeLlm, FakeAnthropic, BlockSettings],
) -> None:
    openai, _, settings = servers
    too_long = (400, {"error": {"message": "This model's maximum context length is 128000"}})
    openai.replies = [too_long, too_long, "fits"]
    block = AIStructuredResponseGeneratorBlock()
    data = {"prompt": "x", "expected_format": {}, "model": "gpt-4o", "max_tokens": 1000}
    async with httpx.AsyncClient() as http:
        outputs = [
            pair async for pair in block.execute(data, context_for(settings, http, "openai"))
        ]
        assert outputs[0] == ("response", {"response": "fits"})
        budgets = [r["max_completion_tokens"] for r in openai.requests]
        assert budgets == [1000, 850, 722]
        openai.requests.clear()
        openai.replies = [too_long]
        with pytest.raises(LlmContextTooLong, match="maximum context length"):
            await call_llm(
                context_for(settings, http, "openai"),
                LlmRequest("gpt-4o", [{"role": "user", "content": "x"}]),
            )
