"""LLM blocks against a local OpenAI-compatible fake server (the operator's endpoint)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.blocks.base import Block, BlockContext
from autoplat.blocks.builtin.llm import AIStructuredResponseGeneratorBlock, AITextGeneratorBlock
from autoplat.blocks.builtin.llm_extra import (
    AIConversationBlock,
    AIListGeneratorBlock,
    AITextSummarizerBlock,
)
from autoplat.blocks.llm.types import LlmApiError, LlmUnavailable
from autoplat.blocks.settings import BlockSettings
from autoplat.errors import BlockRunError, TransientBlockError
from tests.support.servers import FakeLlm, serve


@pytest.fixture
async def llm() -> AsyncIterator[tuple[FakeLlm, str]]:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        yield fake, f"{url}/v1"


async def run(
    block: Block[Any],
    data: dict[str, Any],
    base_url: str,
    credentials: Mapping[str, Any] | None = None,
    **settings: Any,
) -> tuple[list[tuple[str, Any]], BlockContext]:
    values = {"llm_base_url": base_url, "llm_api_key": SecretStr("sk-test"), **settings}
    async with httpx.AsyncClient() as http:
        context = BlockContext(
            settings=BlockSettings(**values), http=http, credentials=credentials or {}
        )
        outputs = [pair async for pair in block.execute(data, context)]
    return outputs, context


def tagged(request: dict[str, Any], payload: Any) -> str:
    """Answer inside the json_output tag the block asked for."""
    instructions = " ".join(m["content"] for m in request["messages"] if m["role"] == "system")
    tag = re.search(r'<json_output id="([0-9a-f]+)">', instructions)
    assert tag is not None, instructions
    return f'Sure!\n<json_output id="{tag.group(1)}">{json.dumps(payload)}</json_output>'


async def test_text_generator_fills_prompt_values(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.replies = ["def add(a, b): return a + b"]
    outputs, context = await run(
        AITextGeneratorBlock(),
        {
            "prompt": "Write {{FUNCTION}} taking {{ARGS}}",
            "sys_prompt": "You write {{LANG}} code.",
            "prompt_values": {"FUNCTION": "add", "ARGS": "a, b", "LANG": "Python"},
            "model": "gpt-4o",
        },
        url,
    )
    assert outputs[0] == ("response", "def add(a, b): return a + b")
    assert outputs[1] == (
        "prompt",
        [
            {"role": "system", "content": "You write Python code."},
            {"role": "user", "content": "Write add taking a, b"},
        ],
    )
    [sent] = fake.requests
    assert sent["model"] == "gpt-4o"
    assert sent["_authorization"] == "Bearer sk-test"
    assert "response_format" not in sent
    assert context.extra["llm_usage"] == {
        "llm_call_count": 1,
        "llm_retry_count": 0,
        "input_token_count": 11,
        "output_token_count": 7,
        "cache_read_token_count": 0,
        "cache_creation_token_count": 0,
    }


async def test_empty_model_falls_back_to_settings(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    await run(AITextGeneratorBlock(), {"prompt": "hi", "model": ""}, url, llm_model="local-7b")
    assert fake.requests[0]["model"] == "local-7b"
    await run(AITextGeneratorBlock(), {"prompt": "hi", "max_tokens": 50}, url)
    assert fake.requests[1]["model"] == "gpt-5.2-2025-12-11"
    assert fake.requests[1]["max_tokens"] == 50


async def test_structured_response_retries_until_keys_are_present(
    llm: tuple[FakeLlm, str],
) -> None:
    fake, url = llm
    answers = iter([{"TITLE": "only a title"}, {"TITLE": "T", "CONTENT": "C"}])
    fake.responder = lambda request: tagged(request, next(answers))
    outputs, _ = await run(
        AIStructuredResponseGeneratorBlock(),
        {
            "prompt": "Write a post about bees",
            "expected_format": {"TITLE": "Blog post title", "CONTENT": "full blog post content"},
        },
        url,
    )
    assert outputs[0] == ("response", {"TITLE": "T", "CONTENT": "C"})
    assert len(fake.requests) == 2
    retry_messages = fake.requests[1]["messages"]
    assert retry_messages[-2]["role"] == "assistant"
    assert "missing keys: CONTENT" in retry_messages[-1]["content"]
    assert outputs[1][0] == "prompt" and outputs[1][1] == retry_messages


async def test_structured_list_result_and_json_mode(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.replies = [json.dumps({"results": [{"name": "a"}, {"name": "b"}]})]
    outputs, _ = await run(
        AIStructuredResponseGeneratorBlock(),
        {
            "prompt": "two names",
            "expected_format": {"name": "a name"},
            "list_result": True,
            "force_json_output": True,
            "conversation_history": [{"role": "user", "content": "earlier"}],
        },
        url,
    )
    assert outputs[0] == ("response", [{"name": "a"}, {"name": "b"}])
    sent = fake.requests[0]
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"][0] == {"role": "user", "content": "earlier"}


async def test_structured_gives_up_after_retries(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.replies = ["no json at all"]
    with pytest.raises(BlockRunError, match="expected format"):
        await run(
            AIStructuredResponseGeneratorBlock(),
            {"prompt": "x", "expected_format": {"k": "v"}, "retry": 2},
            url,
        )
    assert len(fake.requests) == 2


async def test_structured_without_format_wraps_text(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.replies = ["just text"]
    outputs, _ = await run(
        AIStructuredResponseGeneratorBlock(), {"prompt": "x", "expected_format": {}}, url
    )
    assert outputs[0] == ("response", {"response": "just text"})


async def test_endpoint_errors(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.replies = [(503, {"error": {"message": "overloaded"}})]
    # What survives the client's own retries fails the node (the executor would not honour
    # Retry-After, so it does not retry again).
    with pytest.raises(LlmUnavailable, match="overloaded") as unavailable:
        await run(AITextGeneratorBlock(), {"prompt": "x"}, url, llm_retries=0)
    assert not isinstance(unavailable.value, TransientBlockError)
    assert unavailable.value.code == "llm_unavailable"
    fake.replies = [(400, {"error": {"message": "bad model"}})]
    fake.requests.clear()
    with pytest.raises(LlmApiError, match="bad model") as caught:
        await run(AITextGeneratorBlock(), {"prompt": "x"}, url)
    assert caught.value.upstream_status == 400 and len(fake.requests) == 1
    assert caught.value.status == 422  # what autoplat answers with


async def test_missing_endpoint_is_a_clear_error() -> None:
    with pytest.raises(BlockRunError, match="AUTOPLAT_LLM_BASE_URL"):
        await run(AITextGeneratorBlock(), {"prompt": "x"}, "")


async def test_conversation(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.replies = ["Paris"]
    history = [{"role": "user", "content": "Capital of France?"}]
    outputs, _ = await run(AIConversationBlock(), {"messages": history, "prompt": "Short."}, url)
    assert outputs[0] == ("response", "Paris")
    assert fake.requests[0]["messages"] == [*history, {"role": "user", "content": "Short."}]


async def test_list_generator_emits_list_then_items(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.responder = lambda request: tagged(request, {"list": ["https://a", "https://b"]})
    outputs, _ = await run(
        AIListGeneratorBlock(), {"focus": "top urls", "source_data": "https://a https://b"}, url
    )
    assert [pin for pin, _ in outputs] == ["generated_list", "list_item", "list_item", "prompt"]
    assert outputs[0][1] == ["https://a", "https://b"]
    assert "https://a https://b" in fake.requests[0]["messages"][-1]["content"]


async def test_summarizer_chunks_long_text(llm: tuple[FakeLlm, str]) -> None:
    fake, url = llm
    fake.responder = lambda request: tagged(request, {"summary": f"s{len(fake.requests)}"})
    outputs, _ = await run(
        AITextSummarizerBlock(),
        {"text": "word " * 400, "max_tokens": 200, "chunk_overlap": 10, "style": "bullet points"},
        url,
    )
    # 2000 characters in ~760-character steps: three chunks, then one combining call.
    assert len(fake.requests) == 4
    assert outputs[0] == ("summary", "s4")
    assert "bullet points" in fake.requests[0]["messages"][-1]["content"]
