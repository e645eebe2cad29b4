"""LLM routing: the model's provider picks the endpoint; the key comes from the node's
credential, else the platform key, else the operator's endpoint; unknown models and
credentials that cannot serve the model are clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.llm import AITextGeneratorBlock
from autoplat.blocks.llm.client import call_llm
from autoplat.blocks.llm.credentials import SYSTEM_CREDENTIAL_IDS, LlmCredentialsRef
from autoplat.blocks.llm.models import MODELS, resolve_model
from autoplat.blocks.llm.routing import ollama_base_url, resolve_endpoint
from autoplat.blocks.llm.types import (
    LlmCredentialsError,
    LlmNotConfigured,
    LlmRequest,
    UnknownLlmModel,
)
from autoplat.blocks.settings import BlockSettings
from autoplat.config import Settings
from autoplat.errors import BlockInputError, ConfigError
from autoplat.integrations.model import APIKeyCredentials, UserPasswordCredentials
from tests.support.servers import FakeAnthropic, FakeLlm, serve

OPENAI_COMPATIBLE = [
    ("openai", "gpt-4o"),
    ("groq", "llama-3.3-70b-versatile"),
    ("open_router", "perplexity/sonar-pro"),
    ("llama_api", "Llama-3.3-70B-Instruct"),
    ("aiml_api", "Qwen/Qwen2.5-72B-Instruct-Turbo"),
    ("v0", "v0-1.5-md"),
]
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def openai_fake() -> AsyncIterator[tuple[FakeLlm, str]]:
    fake = FakeLlm(replies=["hello"])
    async with serve(fake.app()) as url:
        yield fake, f"{url}/v1"


@pytest.fixture
async def anthropic_fake() -> AsyncIterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic(replies=["bonjour"])
    async with serve(fake.app()) as url:
        yield fake, f"{url}/v1"


def key(provider: str, secret: str, *, system: bool = False) -> APIKeyCredentials:
    return APIKeyCredentials(
        id=f"cred-{provider}", provider=provider, api_key=SecretStr(secret), is_system=system
    )


async def call(
    settings: BlockSettings,
    model: str,
    credentials: Mapping[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    async with httpx.AsyncClient() as http:
        context = BlockContext(settings=settings, http=http, credentials=credentials or {})
        ref = LlmCredentialsRef.model_validate(reference) if reference else None
        request = LlmRequest(model=model, messages=HI, **options)
        return await call_llm(context, request, reference=ref)


@pytest.mark.parametrize(("provider", "model"), OPENAI_COMPATIBLE)
async def test_openai_compatible_providers_get_their_platform_key(
    openai_fake: tuple[FakeLlm, str], provider: str, model: str
) -> None:
    fake, url = openai_fake
    settings = BlockSettings(
        llm_provider_urls={provider: url},
        llm_keys={provider: SecretStr(f"sk-{provider}"), "openai": SecretStr("sk-openai")},
    )
    reply = await call(settings, model, max_tokens=100)
    assert reply.text == "hello" and reply.provider == provider
    [sent] = fake.requests
    assert sent["model"] == model and sent["_path"] == "/v1/chat/completions"
    assert sent["_authorization"] == f"Bearer sk-{provider}"
    # OpenAI's current models take max_completion_tokens; the compatible APIs max_tokens.
    token_param = "max_completion_tokens" if provider == "openai" else "max_tokens"
    assert sent[token_param] == 100


async def test_anthropic_gets_its_native_messages_api(
    anthropic_fake: tuple[FakeAnthropic, str],
) -> None:
    fake, url = anthropic_fake
    settings = BlockSettings(
        llm_provider_urls={"anthropic": url}, llm_keys={"anthropic": SecretStr("sk-ant-sys")}
    )
    async with httpx.AsyncClient() as http:
        outputs = [
            pair
            async for pair in AITextGeneratorBlock().execute(
                {"prompt": "Say hi", "sys_prompt": "Be brief.", "model": "claude-sonnet-4-6"},
                BlockContext(settings=settings, http=http),
            )
        ]
    assert outputs[0] == ("response", "bonjour")
    [sent] = fake.requests
    assert sent["_x_api_key"] == "sk-ant-sys" and sent["_authorization"] == ""
    assert sent["_anthropic_version"] == "2023-06-01"
    assert sent["system"] == "Be brief."
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}]
    assert sent["max_tokens"] == MODELS["claude-sonnet-4-6"].max_output_tokens


async def test_the_nodes_own_credential_wins_over_the_platform_key(
    openai_fake: tuple[FakeLlm, str],
) -> None:
    fake, url = openai_fake
    settings = BlockSettings(
        llm_provider_urls={"openai": url},
        llm_keys={"openai": SecretStr("sk-platform")},
        llm_base_url="http://127.0.0.1:9/v1",
    )
    user = key("openai", "sk-user-own")
    await call(settings, "gpt-4o-mini", {"credentials": user}, reference={"id": user.id, **REF})
    assert fake.requests[-1]["_authorization"] == "Bearer sk-user-own"
    endpoint = resolve_endpoint(settings, {"credentials": user}, LlmRequest("gpt-4o", HI))
    assert endpoint.payer == "user"
    system = key("openai", "sk-platform", system=True)
    endpoint = resolve_endpoint(settings, {"credentials": system}, LlmRequest("gpt-4o", HI))
    assert endpoint.payer == "platform"
    # Without a credential or reference: the platform key.
    await call(settings, "gpt-4o-mini")
    assert fake.requests[-1]["_authorization"] == "Bearer sk-platform"


REF = {"provider": "openai", "type": "api_key"}


async def test_references_that_cannot_be_served_are_errors() -> None:
    settings = BlockSettings(llm_keys={"openai": SecretStr("sk-platform")})
    request = LlmRequest("gpt-4o", HI)
    # A user's credential the run was not given: never the platform key instead.
    stranger = LlmCredentialsRef(id="someone-elses", provider="openai")
    with pytest.raises(LlmCredentialsError, match="was not given to this run"):
        resolve_endpoint(settings, {}, request, stranger)
    # The platform credential of the model's provider: the platform key.
    own = LlmCredentialsRef(id=SYSTEM_CREDENTIAL_IDS["openai"], provider="openai")
    assert resolve_endpoint(settings, {}, request, own).key.get_secret_value() == "sk-platform"
    groq = LlmCredentialsRef(id=SYSTEM_CREDENTIAL_IDS["groq"], provider="groq")
    with pytest.raises(LlmCredentialsError, match="platform credential of groq"):
        resolve_endpoint(settings, {}, request, groq)
    with pytest.raises(LlmCredentialsError, match="served by openai"):
        resolve_endpoint(settings, {"credentials": key("anthropic", "sk-a")}, request)
    login = UserPasswordCredentials(
        id="u", provider="openai", username=SecretStr("me"), password=SecretStr("pw")
    )
    with pytest.raises(LlmCredentialsError, match="API key"):
        resolve_endpoint(settings, {"credentials": login}, request)
    # Another credential field of the request is the one consulted.
    other = LlmRequest("gpt-4o", HI, credentials_field="openai_credentials")
    endpoint = resolve_endpoint(settings, {"openai_credentials": key("openai", "sk-o")}, other)
    assert endpoint.key.get_secret_value() == "sk-o"


async def test_the_operator_endpoint_serves_what_no_key_covers(
    openai_fake: tuple[FakeLlm, str],
) -> None:
    fake, url = openai_fake
    with pytest.raises(LlmNotConfigured, match="AUTOPLAT_ANTHROPIC_API_KEY") as caught:
        await call(BlockSettings(), "claude-sonnet-4-6")
    assert "AUTOPLAT_LLM_BASE_URL" in caught.value.message
    operator = BlockSettings(llm_base_url=url, llm_api_key=SecretStr("sk-op"))
    await call(operator, "claude-sonnet-4-6")
    sent = fake.requests[-1]
    assert sent["model"] == "claude-sonnet-4-6" and sent["_authorization"] == "Bearer sk-op"
    assert sent["max_tokens"] == MODELS["claude-sonnet-4-6"].max_output_tokens
    # A model of the operator's own (AUTOPLAT_LLM_MODEL) only goes there, with no budget.
    local = BlockSettings(llm_base_url=url, llm_model="local-7b")
    await call(local, "")
    assert fake.requests[-1]["model"] == "local-7b" and "max_tokens" not in fake.requests[-1]
    with pytest.raises(LlmNotConfigured, match="'local-7b'"):
        await call(BlockSettings(llm_model="local-7b"), "")


def test_model_names_resolve_or_fail_with_the_nearest() -> None:
    assert resolve_model("gpt-4o") == "gpt-4o"
    assert resolve_model("anthropic/claude-sonnet-4-6") == "claude-sonnet-4-6"
    assert resolve_model("openai/gpt-oss-120b") == "openai/gpt-oss-120b"  # an OpenRouter name
    assert resolve_model("claude-3-5-sonnet-latest") == "claude-sonnet-4-5-20250929"
    assert resolve_model("") == ""
    with pytest.raises(UnknownLlmModel, match="nearest: gpt-4o") as caught:
        resolve_model("gpt-4oo")
    assert caught.value.code == "llm_unknown_model"
    block = AITextGeneratorBlock()
    with pytest.raises(BlockInputError, match=r"model: .*unknown LLM model 'clod-9'"):
        block.validate_input({"prompt": "x", "model": "clod-9"})
    typed = block.validate_input({"prompt": "x", "model": "anthropic/claude-sonnet-4-6"})
    assert typed.model == "claude-sonnet-4-6"


async def test_ollama_runs_on_the_nodes_host_without_a_key(
    openai_fake: tuple[FakeLlm, str],
) -> None:
    fake, url = openai_fake
    host = url.removeprefix("http://").removesuffix("/v1")
    await call(BlockSettings(llm_keys={"openai": SecretStr("sk-x")}), "llama3.2", ollama_host=host)
    sent = fake.requests[-1]
    assert sent["model"] == "llama3.2" and sent["_authorization"] == ""
    assert sent["_path"] == "/v1/chat/completions"
    # The operator's host replaces the pin's default, not a host the node names.
    operator = BlockSettings(ollama_host="http://ollama.internal:11434")
    assert ollama_base_url("localhost:11434", operator) == "http://ollama.internal:11434/v1"
    assert ollama_base_url("", operator) == "http://ollama.internal:11434/v1"
    assert ollama_base_url("gpu-box:8080", operator) == "http://gpu-box:8080/v1"
    assert ollama_base_url("https://o.example/v1/", BlockSettings()) == "https://o.example/v1"
    assert ollama_base_url("", BlockSettings()) == "http://localhost:11434/v1"


def test_block_settings_take_platform_keys_and_urls_from_settings() -> None:
    settings = Settings(
        openai_api_key=SecretStr("sk-openai"),
        anthropic_api_key=SecretStr("sk-ant"),
        llm_provider_urls={"openai": "http://127.0.0.1:5000/v1"},
        ollama_host="localhost:11434",
        llm_retries=1,
    )
    block = BlockSettings.from_settings(settings)
    assert block.llm_keys["openai"].get_secret_value() == "sk-openai"
    assert block.llm_keys["anthropic"].get_secret_value() == "sk-ant"
    assert block.llm_keys["groq"].get_secret_value() == ""
    assert block.llm_retries == 1
    assert "sk-openai" not in repr(block)
    assert block.llm_endpoints() == ["http://127.0.0.1:5000/v1", "http://localhost:11434"]
    with pytest.raises(ConfigError, match="AUTOPLAT_LLM_PROVIDER_URLS: unknown provider gemini"):
        BlockSettings.from_settings(Settings(llm_provider_urls={"gemini": "http://x"}))
    with pytest.raises(ConfigError, match="must be http"):
        BlockSettings.from_settings(Settings(llm_provider_urls={"groq": "file:///etc"}))
