"""AIConditionBlock (AutoGPT's vectors and semantics), the LLM price list and the schema
markers imported agents rely on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.ai_condition import AIConditionBlock, parse_boolean
from autoplat.blocks.builtin.llm import LLM_COSTS, AITextGeneratorBlock
from autoplat.blocks.llm.credentials import SYSTEM_CREDENTIAL_IDS, system_reference
from autoplat.blocks.llm.models import MODEL_NAMES, MODELS
from autoplat.blocks.llm.standin import TEST_CREDENTIALS
from autoplat.blocks.selftest import run_self_test
from autoplat.blocks.settings import BlockSettings
from autoplat.credits.costs import select_cost
from autoplat.credits.service import input_with_defaults
from autoplat.errors import BlockRunError
from tests.support.servers import FakeLlm, serve


@pytest.fixture
async def llm() -> AsyncIterator[tuple[FakeLlm, BlockSettings]]:
    fake = FakeLlm()
    async with serve(fake.app()) as url:
        yield fake, BlockSettings(llm_provider_urls={"openai": f"{url}/v1"})


async def run(
    settings: BlockSettings, data: dict[str, Any]
) -> tuple[list[tuple[str, Any]], BlockContext]:
    async with httpx.AsyncClient() as http:
        context = BlockContext(
            settings=settings, http=http, credentials={"credentials": TEST_CREDENTIALS}
        )
        return [pair async for pair in AIConditionBlock().execute(data, context)], context


async def test_autogpt_vectors_run_on_the_offline_stand_in() -> None:
    async with httpx.AsyncClient() as http:
        await run_self_test(AIConditionBlock(), BlockContext(settings=BlockSettings(), http=http))


async def test_vectors_through_the_real_wire(llm: tuple[FakeLlm, BlockSettings]) -> None:
    fake, settings = llm
    [vector] = AIConditionBlock.test_input
    fake.replies = ["true"]
    outputs, context = await run(settings, vector)
    assert outputs == AIConditionBlock.test_output
    [sent] = fake.requests
    assert sent["_authorization"] == "Bearer mock-openai-api-key"
    assert "john@example.com" in sent["messages"][1]["content"]
    assert "the input is an email address" in sent["messages"][1]["content"]
    # gpt-5.2 reasons before it answers, so a true/false gets more than 16 tokens.
    assert sent["max_completion_tokens"] == 2048
    assert context.extra["llm_usage"]["llm_call_count"] == 1
    fake.replies = ["False."]
    outputs, _ = await run(settings, {**vector, "model": "gpt-4o", "no_value": None})
    assert outputs == [("result", False), ("no_output", "john@example.com")]
    assert fake.requests[-1]["max_completion_tokens"] == 16


async def test_an_unclear_answer_fails_the_node(llm: tuple[FakeLlm, BlockSettings]) -> None:
    fake, settings = llm
    fake.replies = ["Maybe yes, maybe no"]
    with pytest.raises(BlockRunError, match="Unclear AI response: 'Maybe yes, maybe no'"):
        await run(settings, {"input_value": 3, "condition": "is prime", "model": "gpt-4o"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", (True, None)),
        (" FALSE\n", (False, None)),
        ("Yes.", (True, None)),
        ("no", (False, None)),
        ("1", (True, None)),
        ("The answer is true, true.", (True, None)),
        ("untrue", (False, "Unclear AI response: 'untrue'")),
        ("true or false", (False, "Unclear AI response: 'true or false'")),
        ("", (False, "Unclear AI response: ''")),
    ],
)
def test_boolean_answers(text: str, expected: tuple[bool, str | None]) -> None:
    assert parse_boolean(text) == expected


def price(data: dict[str, Any]) -> int | None:
    block = AITextGeneratorBlock()
    cost = select_cost(LLM_COSTS, input_with_defaults(block, {"prompt": "x", **data}))
    return None if cost is None else cost.cost_amount


def test_prices_follow_the_platform_credential() -> None:
    assert price({"model": "gpt-4o"}) == 3  # no credential: the platform key, charged
    assert price({}) == MODELS["gpt-5.2-2025-12-11"].price  # the pin's default model
    openai = system_reference("openai")
    assert price({"model": "gpt-4o", "credentials": openai}) == 3
    assert price({"model": "claude-opus-4-1-20250805"}) == 21
    user_own = {"id": "mine", "provider": "openai", "type": "api_key"}
    assert price({"model": "gpt-4o", "credentials": user_own}) is None  # never charged
    assert price({"model": "llama3.2"}) == 0  # local models are free
    assert (
        price({"model": "claude-3-5-sonnet-latest"}) == MODELS["claude-sonnet-4-5-20250929"].price
    )
    assert price({"model": ""}) == 1
    # A spelling the list cannot name pays the top price rather than nothing.
    top = max(m.price for m in MODELS.values())
    assert price({"model": "anthropic/claude-3-haiku-20240307"}) == top
    anthropic = system_reference("anthropic")
    assert price({"model": "anthropic/claude-3-haiku-20240307", "credentials": anthropic}) == top


def test_pins_carry_autogpt_markers() -> None:
    schema = AITextGeneratorBlock.Input.json_schema()
    credentials = schema["properties"]["credentials"]
    assert credentials["credentials_provider"] == [
        "aiml_api",
        "anthropic",
        "groq",
        "ollama",
        "openai",
        "open_router",
        "llama_api",
        "v0",
    ]
    assert credentials["credentials_types"] == ["api_key"]
    assert credentials["discriminator"] == "model"
    assert credentials["discriminator_mapping"]["claude-sonnet-4-6"] == "anthropic"
    assert credentials["discriminator_mapping"]["perplexity/sonar-pro"] == "open_router"
    assert credentials["discriminator_mapping"]["llama3.3"] == "ollama"
    definition = schema["$defs"][credentials["anyOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert definition["credentials_provider"] == credentials["credentials_provider"]
    assert definition["required"] == ["id", "provider", "type"]
    assert "credentials" not in schema["required"]
    model = schema["properties"]["model"]
    assert model["default"] == "gpt-5.2-2025-12-11" and model["llm_model"] is True
    assert model["enum"] == list(MODEL_NAMES) and len(MODEL_NAMES) == 108
    assert model["llm_model_metadata"]["gpt-4o"]["provider_name"] == "OpenAI"
    condition = AIConditionBlock.Input.json_schema()["properties"]
    assert "ollama_host" not in condition and "credentials" in condition
    assert set(SYSTEM_CREDENTIAL_IDS) == set(credentials["credentials_provider"])


async def test_a_platform_credential_from_the_store_is_used(
    llm: tuple[FakeLlm, BlockSettings],
) -> None:
    fake, settings = llm
    fake.replies = ["true"]
    system = TEST_CREDENTIALS.model_copy(
        update={"id": SYSTEM_CREDENTIAL_IDS["openai"], "api_key": SecretStr("sk-platform")}
    )
    async with httpx.AsyncClient() as http:
        context = BlockContext(settings=settings, http=http, credentials={"credentials": system})
        data = {"input_value": 1, "condition": "odd", "credentials": system_reference("openai")}
        outputs = [pair async for pair in AIConditionBlock().execute(data, context)]
    assert outputs[0] == ("result", True)
    assert fake.requests[0]["_authorization"] == "Bearer sk-platform"
