"""The model table: every ``model`` value AutoGPT offers, with what serving and pricing need.

Invariant: this table is the one source of model facts. The ``model`` pin validates against
it (:func:`resolve_model`), routing takes the provider from it, the output budget comes from
its context window and output limit, the credits per call (AutoGPT's flat ``MODEL_COST``
tiers) come from it, and the pin's JSON schema (``enum``, ``llm_model_metadata``) is built
from it. Values are facts about AutoGPT's ``LlmModel`` enum and its cost table (blocks.md §3.14,
§7), restated as data.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Final

from autoplat.blocks.llm.types import UnknownLlmModel

OPENAI: Final = "openai"
ANTHROPIC: Final = "anthropic"
GROQ: Final = "groq"
OLLAMA: Final = "ollama"
OPEN_ROUTER: Final = "open_router"
LLAMA_API: Final = "llama_api"
AIML_API: Final = "aiml_api"
V0: Final = "v0"

#: AutoGPT's LLM provider names (the ``credentials_provider`` of the LLM blocks), in its order.
LLM_PROVIDERS: Final = (AIML_API, ANTHROPIC, GROQ, OLLAMA, OPENAI, OPEN_ROUTER, LLAMA_API, V0)
PROVIDER_TITLES: Final = {
    OPENAI: "OpenAI",
    ANTHROPIC: "Anthropic",
    GROQ: "Groq",
    OLLAMA: "Ollama",
    OPEN_ROUTER: "OpenRouter",
    LLAMA_API: "Llama API",
    AIML_API: "AI/ML",
    V0: "V0",
}

#: The settings (``AUTOPLAT_<NAME>``) holding each provider's platform key (Ollama needs none).
KEY_SETTINGS: Final[dict[str, str]] = {
    OPENAI: "openai_api_key",
    ANTHROPIC: "anthropic_api_key",
    GROQ: "groq_api_key",
    OPEN_ROUTER: "open_router_api_key",
    LLAMA_API: "llama_api_key",
    AIML_API: "aiml_api_key",
    V0: "v0_api_key",
}

DEFAULT_MODEL: Final = "gpt-5.2-2025-12-11"
#: Output budget for models whose table entry gives no limit (AutoGPT's fallback, 2**15).
DEFAULT_MAX_OUTPUT: Final = 32_768


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model: who serves it, how much it reads and writes, and what a call costs."""

    name: str
    provider: str
    context_window: int
    max_output_tokens: int | None
    #: Credits per call on a platform credential (AutoGPT's flat ``MODEL_COST`` tier).
    price: int
    title: str
    creator: str
    price_tier: int

    @property
    def output_limit(self) -> int:
        """The most tokens one answer may have."""
        return self.max_output_tokens or DEFAULT_MAX_OUTPUT


# name, context window, max output, credits per call, title, creator, price tier
_Row = tuple[str, int, int | None, int, str, str, int]

_TABLE: Final[dict[str, tuple[_Row, ...]]] = {
    OPENAI: (
        ("o3-mini", 200_000, 100_000, 2, "O3 Mini", "OpenAI", 1),
        ("o3-2025-04-16", 200_000, 100_000, 4, "O3", "OpenAI", 2),
        ("o1", 200_000, 100_000, 16, "O1", "OpenAI", 3),
        ("o1-mini", 128_000, 65_536, 4, "O1 Mini", "OpenAI", 2),
        ("gpt-5.2-2025-12-11", 400_000, 128_000, 6, "GPT-5.2", "OpenAI", 3),
        ("gpt-5.1-2025-11-13", 400_000, 128_000, 5, "GPT-5.1", "OpenAI", 2),
        ("gpt-5-2025-08-07", 400_000, 128_000, 2, "GPT-5", "OpenAI", 1),
        ("gpt-5-mini-2025-08-07", 400_000, 128_000, 1, "GPT-5 Mini", "OpenAI", 1),
        ("gpt-5-nano-2025-08-07", 400_000, 128_000, 1, "GPT-5 Nano", "OpenAI", 1),
        ("gpt-5-chat-latest", 400_000, 16_384, 5, "GPT-5 Chat Latest", "OpenAI", 2),
        ("gpt-4.1-2025-04-14", 1_047_576, 32_768, 2, "GPT-4.1", "OpenAI", 1),
        ("gpt-4.1-mini-2025-04-14", 1_047_576, 32_768, 1, "GPT-4.1 Mini", "OpenAI", 1),
        ("gpt-4o-mini", 128_000, 16_384, 1, "GPT-4o Mini", "OpenAI", 1),
        ("gpt-4o", 128_000, 16_384, 3, "GPT-4o", "OpenAI", 2),
        ("gpt-4-turbo", 128_000, 4_096, 10, "GPT-4 Turbo", "OpenAI", 3),
    ),
    ANTHROPIC: (
        ("claude-opus-4-1-20250805", 200_000, 32_000, 21, "Claude Opus 4.1", "Anthropic", 3),
        ("claude-opus-4-20250514", 200_000, 32_000, 21, "Claude Opus 4", "Anthropic", 3),
        ("claude-sonnet-4-20250514", 200_000, 64_000, 5, "Claude Sonnet 4", "Anthropic", 2),
        ("claude-opus-4-5-20251101", 200_000, 64_000, 14, "Claude Opus 4.5", "Anthropic", 3),
        ("claude-sonnet-4-5-20250929", 200_000, 64_000, 9, "Claude Sonnet 4.5", "Anthropic", 3),
        ("claude-haiku-4-5-20251001", 200_000, 64_000, 4, "Claude Haiku 4.5", "Anthropic", 2),
        ("claude-opus-4-6", 200_000, 128_000, 14, "Claude Opus 4.6", "Anthropic", 3),
        ("claude-opus-4-7", 200_000, 128_000, 14, "Claude Opus 4.7", "Anthropic", 3),
        ("claude-sonnet-4-6", 200_000, 64_000, 9, "Claude Sonnet 4.6", "Anthropic", 3),
        ("claude-3-haiku-20240307", 200_000, 4_096, 1, "Claude 3 Haiku", "Anthropic", 1),
    ),
    AIML_API: (
        (
            "Qwen/Qwen2.5-72B-Instruct-Turbo",
            32_000,
            8_000,
            1,
            "Qwen 2.5 72B Instruct Turbo",
            "Qwen",
            1,
        ),
        (
            "nvidia/llama-3.1-nemotron-70b-instruct",
            128_000,
            40_000,
            1,
            "Llama 3.1 Nemotron 70B Instruct",
            "Nvidia",
            1,
        ),
        (
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            128_000,
            None,
            1,
            "Llama 3.3 70B Instruct Turbo",
            "Meta",
            1,
        ),
        (
            "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
            131_000,
            2_000,
            1,
            "Llama 3.1 70B Instruct Turbo",
            "Meta",
            1,
        ),
        (
            "meta-llama/Llama-3.2-3B-Instruct-Turbo",
            128_000,
            None,
            1,
            "Llama 3.2 3B Instruct Turbo",
            "Meta",
            1,
        ),
    ),
    GROQ: (
        ("llama-3.3-70b-versatile", 128_000, 32_768, 1, "Llama 3.3 70B Versatile", "Meta", 1),
        ("llama-3.1-8b-instant", 128_000, 8_192, 1, "Llama 3.1 8B Instant", "Meta", 1),
    ),
    OLLAMA: (
        ("llama3.3", 8_192, None, 1, "Llama 3.3", "Meta", 1),
        ("llama3.2", 8_192, None, 1, "Llama 3.2", "Meta", 1),
        ("llama3", 8_192, None, 1, "Llama 3", "Meta", 1),
        ("llama3.1:405b", 8_192, None, 1, "Llama 3.1 405B", "Meta", 1),
        ("dolphin-mistral:latest", 32_768, None, 1, "Dolphin Mistral Latest", "Mistral AI", 1),
    ),
    OPEN_ROUTER: (
        ("openai/gpt-oss-120b", 131_072, 131_072, 1, "GPT-OSS 120B", "OpenAI", 1),
        ("openai/gpt-oss-20b", 131_072, 32_768, 1, "GPT-OSS 20B", "OpenAI", 1),
        (
            "google/gemini-2.5-pro-preview-03-25",
            1_048_576,
            65_536,
            4,
            "Gemini 2.5 Pro Preview 03.25",
            "Google",
            2,
        ),
        ("google/gemini-2.5-pro", 1_048_576, 65_536, 4, "Gemini 2.5 Pro", "Google", 2),
        (
            "google/gemini-3.1-pro-preview",
            1_048_576,
            65_536,
            5,
            "Gemini 3.1 Pro Preview",
            "Google",
            2,
        ),
        (
            "google/gemini-3-flash-preview",
            1_048_576,
            65_536,
            2,
            "Gemini 3 Flash Preview",
            "Google",
            1,
        ),
        ("google/gemini-2.5-flash", 1_048_576, 65_535, 1, "Gemini 2.5 Flash", "Google", 1),
        ("google/gemini-2.0-flash-001", 1_048_576, 8_192, 1, "Gemini 2.0 Flash 001", "Google", 1),
        (
            "google/gemini-3.1-flash-lite-preview",
            1_048_576,
            65_536,
            1,
            "Gemini 3.1 Flash Lite Preview",
            "Google",
            1,
        ),
        (
            "google/gemini-2.5-flash-lite-preview-06-17",
            1_048_576,
            65_535,
            1,
            "Gemini 2.5 Flash Lite Preview 06.17",
            "Google",
            1,
        ),
        (
            "google/gemini-2.0-flash-lite-001",
            1_048_576,
            8_192,
            1,
            "Gemini 2.0 Flash Lite 001",
            "Google",
            1,
        ),
        ("mistralai/mistral-nemo", 128_000, 4_096, 1, "Mistral Nemo", "Mistral AI", 1),
        ("mistralai/mistral-large-2512", 262_144, None, 2, "Mistral Large 3 2512", "Mistral AI", 2),
        ("mistralai/mistral-medium-3.1", 131_072, None, 2, "Mistral Medium 3.1", "Mistral AI", 2),
        (
            "mistralai/mistral-small-3.2-24b-instruct",
            131_072,
            131_072,
            1,
            "Mistral Small 3.2 24B",
            "Mistral AI",
            1,
        ),
        ("mistralai/codestral-2508", 256_000, None, 1, "Codestral 2508", "Mistral AI", 1),
        ("cohere/command-r-08-2024", 128_000, 4_096, 1, "Command R 08.2024", "Cohere", 1),
        ("cohere/command-r-plus-08-2024", 128_000, 4_096, 3, "Command R Plus 08.2024", "Cohere", 2),
        ("cohere/command-a-03-2025", 256_000, 8_192, 3, "Command A 03.2025", "Cohere", 2),
        (
            "cohere/command-a-translate-08-2025",
            128_000,
            8_192,
            3,
            "Command A Translate 08.2025",
            "Cohere",
            2,
        ),
        (
            "cohere/command-a-reasoning-08-2025",
            256_000,
            32_768,
            6,
            "Command A Reasoning 08.2025",
            "Cohere",
            3,
        ),
        (
            "cohere/command-a-vision-07-2025",
            128_000,
            8_192,
            3,
            "Command A Vision 07.2025",
            "Cohere",
            2,
        ),
        ("deepseek/deepseek-chat", 64_000, 2_048, 2, "DeepSeek Chat", "DeepSeek", 1),
        ("deepseek/deepseek-r1-0528", 163_840, 163_840, 1, "DeepSeek R1 0528", "DeepSeek", 1),
        ("perplexity/sonar", 127_000, 8_000, 1, "Sonar", "Perplexity", 1),
        ("perplexity/sonar-pro", 200_000, 8_000, 5, "Sonar Pro", "Perplexity", 2),
        (
            "perplexity/sonar-reasoning-pro",
            128_000,
            8_000,
            5,
            "Sonar Reasoning Pro",
            "Perplexity",
            2,
        ),
        (
            "perplexity/sonar-deep-research",
            128_000,
            16_000,
            10,
            "Sonar Deep Research",
            "Perplexity",
            3,
        ),
        (
            "nousresearch/hermes-3-llama-3.1-405b",
            131_000,
            4_096,
            1,
            "Hermes 3 Llama 3.1 405B",
            "Nous Research",
            1,
        ),
        (
            "nousresearch/hermes-3-llama-3.1-70b",
            12_288,
            12_288,
            1,
            "Hermes 3 Llama 3.1 70B",
            "Nous Research",
            1,
        ),
        ("amazon/nova-lite-v1", 300_000, 5_120, 1, "Nova Lite V1", "Amazon", 1),
        ("amazon/nova-micro-v1", 128_000, 5_120, 1, "Nova Micro V1", "Amazon", 1),
        ("amazon/nova-pro-v1", 300_000, 5_120, 1, "Nova Pro V1", "Amazon", 1),
        ("microsoft/wizardlm-2-8x22b", 65_536, 4_096, 1, "WizardLM 2 8x22B", "Microsoft", 1),
        ("microsoft/phi-4", 16_384, 16_384, 1, "Phi-4", "Microsoft", 1),
        ("gryphe/mythomax-l2-13b", 4_096, 4_096, 1, "MythoMax L2 13B", "Gryphe", 1),
        ("meta-llama/llama-4-scout", 131_072, 131_072, 1, "Llama 4 Scout", "Meta", 1),
        ("meta-llama/llama-4-maverick", 1_048_576, 1_000_000, 1, "Llama 4 Maverick", "Meta", 1),
        ("x-ai/grok-3", 131_072, 131_072, 3, "Grok 3", "xAI", 2),
        ("x-ai/grok-4", 256_000, 256_000, 9, "Grok 4", "xAI", 3),
        ("x-ai/grok-4-fast", 2_000_000, 30_000, 1, "Grok 4 Fast", "xAI", 1),
        ("x-ai/grok-4.1-fast", 2_000_000, 30_000, 1, "Grok 4.1 Fast", "xAI", 1),
        ("x-ai/grok-4.20", 2_000_000, 100_000, 5, "Grok 4.20", "xAI", 3),
        ("x-ai/grok-4.20-multi-agent", 2_000_000, 100_000, 5, "Grok 4.20 Multi-Agent", "xAI", 3),
        ("x-ai/grok-code-fast-1", 256_000, 10_000, 1, "Grok Code Fast 1", "xAI", 1),
        ("moonshotai/kimi-k2", 131_000, 131_000, 1, "Kimi K2", "Moonshot AI", 1),
        ("moonshotai/kimi-k2-0905", 262_144, 262_144, 1, "Kimi K2 0905", "Moonshot AI", 1),
        ("moonshotai/kimi-k2.5", 262_144, 262_144, 1, "Kimi K2.5", "Moonshot AI", 1),
        ("moonshotai/kimi-k2.6", 262_144, 262_144, 2, "Kimi K2.6", "Moonshot AI", 2),
        ("moonshotai/kimi-k2-thinking", 262_144, 262_144, 2, "Kimi K2 Thinking", "Moonshot AI", 2),
        (
            "qwen/qwen3-235b-a22b-thinking-2507",
            262_144,
            262_144,
            1,
            "Qwen 3 235B A22B Thinking 2507",
            "Qwen",
            1,
        ),
        ("qwen/qwen3-coder", 262_144, 262_144, 9, "Qwen 3 Coder", "Qwen", 3),
        ("z-ai/glm-4-32b", 128_000, 128_000, 1, "GLM 4 32B", "Z.ai", 1),
        ("z-ai/glm-4.5", 131_072, 98_304, 2, "GLM 4.5", "Z.ai", 2),
        ("z-ai/glm-4.5-air", 131_072, 98_304, 1, "GLM 4.5 Air", "Z.ai", 1),
        ("z-ai/glm-4.5-air:free", 131_072, 96_000, 1, "GLM 4.5 Air (Free)", "Z.ai", 1),
        ("z-ai/glm-4.5v", 65_536, 16_384, 2, "GLM 4.5V", "Z.ai", 2),
        ("z-ai/glm-4.6", 204_800, 204_800, 1, "GLM 4.6", "Z.ai", 1),
        ("z-ai/glm-4.6v", 131_072, 131_072, 1, "GLM 4.6V", "Z.ai", 1),
        ("z-ai/glm-4.7", 202_752, 65_535, 1, "GLM 4.7", "Z.ai", 1),
        ("z-ai/glm-4.7-flash", 202_752, 202_752, 1, "GLM 4.7 Flash", "Z.ai", 1),
        ("z-ai/glm-5", 80_000, 80_000, 2, "GLM 5", "Z.ai", 2),
        ("z-ai/glm-5-turbo", 202_752, 131_072, 4, "GLM 5 Turbo", "Z.ai", 3),
        ("z-ai/glm-5v-turbo", 202_752, 131_072, 4, "GLM 5V Turbo", "Z.ai", 3),
    ),
    LLAMA_API: (
        (
            "Llama-4-Scout-17B-16E-Instruct-FP8",
            128_000,
            4_028,
            1,
            "Llama 4 Scout 17B 16E Instruct FP8",
            "Meta",
            1,
        ),
        (
            "Llama-4-Maverick-17B-128E-Instruct-FP8",
            128_000,
            4_028,
            1,
            "Llama 4 Maverick 17B 128E Instruct FP8",
            "Meta",
            1,
        ),
        ("Llama-3.3-8B-Instruct", 128_000, 4_028, 1, "Llama 3.3 8B Instruct", "Meta", 1),
        ("Llama-3.3-70B-Instruct", 128_000, 4_028, 1, "Llama 3.3 70B Instruct", "Meta", 1),
    ),
    V0: (
        ("v0-1.5-md", 128_000, 64_000, 1, "v0 1.5 MD", "V0", 1),
        ("v0-1.5-lg", 512_000, 64_000, 2, "v0 1.5 LG", "V0", 1),
        ("v0-1.0-md", 128_000, 64_000, 1, "v0 1.0 MD", "V0", 1),
    ),
}

MODELS: Final[dict[str, ModelInfo]] = {
    row[0]: ModelInfo(row[0], provider, *row[1:])
    for provider, rows in _TABLE.items()
    for row in rows
}
MODEL_NAMES: Final = tuple(MODELS)

#: Names AutoGPT once offered and later retired, found in older exports: each runs on the
#: model AutoGPT moved such graphs to (or its closest current sibling).
RETIRED_MODELS: Final[dict[str, str]] = {
    "gpt-3.5-turbo": "gpt-4o-mini",
    "o1-preview": "o1",
    "claude-3-5-sonnet-latest": "claude-sonnet-4-5-20250929",
    "claude-3-5-haiku-latest": "claude-haiku-4-5-20251001",
    "claude-3-7-sonnet-20250219": "claude-sonnet-4-20250514",
    "claude-3-opus-latest": "claude-opus-4-1-20250805",
    "llama3-8b-8192": "llama-3.1-8b-instant",
    "llama3-70b-8192": "llama-3.3-70b-versatile",
}


def resolve_model(name: str) -> str:
    """The table name for a ``model`` pin value, or raise UnknownLlmModel.

    Accepted besides table names: a provider prefix before a table name (``anthropic/
    claude-sonnet-4-6``, as AutoGPT accepts), retired names (:data:`RETIRED_MODELS`) and the
    empty string, which means the operator's default model (``AUTOPLAT_LLM_MODEL``).
    """
    value = name.strip()
    if not value or value in MODELS:
        return value
    if value in RETIRED_MODELS:
        return RETIRED_MODELS[value]
    if "/" in value:
        stripped = value.split("/", 1)[1]
        if stripped in MODELS:
            return stripped
    nearest = difflib.get_close_matches(value, MODEL_NAMES, n=5, cutoff=0.4)
    hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
    raise UnknownLlmModel(f"unknown LLM model {value!r}{hint}")


def model_info(name: str) -> ModelInfo | None:
    """The table entry of a (resolved) model name, or None for an operator-defined model."""
    return MODELS.get(name)


def model_pin_schema() -> dict[str, Any]:
    """JSON-schema extras of the ``model`` pin, as AutoGPT publishes its ``LlmModel`` enum."""
    return {
        "enum": list(MODEL_NAMES),
        "llm_model": True,
        "llm_model_metadata": {
            info.name: {
                "creator": info.creator,
                "creator_name": info.creator,
                "title": info.title,
                "provider": info.provider,
                "provider_name": PROVIDER_TITLES[info.provider],
                "name": info.name,
                "price_tier": info.price_tier,
            }
            for info in MODELS.values()
        },
    }
