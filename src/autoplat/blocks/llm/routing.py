"""Which endpoint serves a call, and with whose key.

The model's provider (from the table) picks the endpoint; the key comes, in this order, from:

1. the node's resolved credential (``context.credentials[field]``): it must be an API key of
   that provider, and it is the user's own unless the store marked it ``is_system``;
2. the platform key for the provider (``AUTOPLAT_<PROVIDER>_API_KEY``), when the node holds
   no reference or a reference to that provider's platform credential;
3. the operator's OpenAI-compatible endpoint (``AUTOPLAT_LLM_BASE_URL`` with
   ``AUTOPLAT_LLM_API_KEY``), which then serves any model under its table name; models
   outside the table (an ``AUTOPLAT_LLM_MODEL`` of the operator's own) only go there.

Invariants: a node that references a user's credential never falls back to a platform key
(an unresolved reference is an error, so nobody runs on the operator's key by naming a
credential they do not hold); base URLs come only from settings (the operator, tests), never
from graph input, except Ollama's per-node ``ollama_host``, which the outbound HTTP client
vets like any user-given address. Keys stay ``SecretStr`` until :meth:`Endpoint.headers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import SecretStr

from autoplat.blocks.llm import models
from autoplat.blocks.llm.credentials import SYSTEM_CREDENTIAL_IDS, LlmCredentialsRef
from autoplat.blocks.llm.models import (
    KEY_SETTINGS,
    PROVIDER_TITLES,
    ModelInfo,
    model_info,
    resolve_model,
)
from autoplat.blocks.llm.types import LlmCredentialsError, LlmNotConfigured, LlmRequest
from autoplat.blocks.settings import BlockSettings
from autoplat.integrations.model import APIKeyCredentials

DEFAULT_BASE_URLS: Final[dict[str, str]] = {
    models.OPENAI: "https://api.openai.com/v1",
    models.ANTHROPIC: "https://api.anthropic.com/v1",
    models.GROQ: "https://api.groq.com/openai/v1",
    models.OPEN_ROUTER: "https://openrouter.ai/api/v1",
    models.LLAMA_API: "https://api.llama.com/compat/v1",
    models.AIML_API: "https://api.aimlapi.com/v2",
    models.V0: "https://api.v0.dev/v1",
}
DEFAULT_OLLAMA_HOST: Final = "localhost:11434"
#: The provider name of the operator's own OpenAI-compatible endpoint.
OPERATOR: Final = "operator"

Wire = Literal["openai", "anthropic"]
Payer = Literal["user", "platform", "operator", "local"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one call goes: wire format, base URL, key, the model name sent, who pays."""

    provider: str
    wire: Wire
    base_url: str
    key: SecretStr
    model: str
    info: ModelInfo | None
    payer: Payer

    @property
    def title(self) -> str:
        """How error messages name the endpoint."""
        if self.provider == OPERATOR:
            return "the LLM endpoint (AUTOPLAT_LLM_BASE_URL)"
        return PROVIDER_TITLES.get(self.provider, self.provider)

    @property
    def token_param(self) -> str:
        """OpenAI's current models take ``max_completion_tokens``; the rest ``max_tokens``."""
        return "max_completion_tokens" if self.provider == models.OPENAI else "max_tokens"

    @property
    def o_series(self) -> bool:
        """OpenAI reasoning models (``o1``, ``o3``...), which reject some parameters."""
        return self.provider == models.OPENAI and self.model.startswith("o")

    def headers(self) -> dict[str, str]:
        """Request headers; the one place a key is unwrapped."""
        key = self.key.get_secret_value()
        if self.wire == "anthropic":
            headers = {"anthropic-version": "2023-06-01"}
            if key:
                headers["x-api-key"] = key
            return headers
        return {"Authorization": f"Bearer {key}"} if key else {}


def env_name(setting: str) -> str:
    """The environment variable of a setting."""
    return f"AUTOPLAT_{setting.upper()}"


def ollama_base_url(node_host: str, settings: BlockSettings) -> str:
    """The Ollama server of a node: its own host, or the operator's in place of the default."""
    host = node_host.strip()
    if (not host or host == DEFAULT_OLLAMA_HOST) and settings.ollama_host:
        host = settings.ollama_host
    host = (host or DEFAULT_OLLAMA_HOST).rstrip("/")
    if "://" not in host:
        host = f"http://{host}"
    return f"{host.removesuffix('/v1')}/v1"


def _base_url(provider: str, settings: BlockSettings) -> str:
    return (settings.llm_provider_urls.get(provider) or DEFAULT_BASE_URLS[provider]).rstrip("/")


def _operator(settings: BlockSettings, name: str, info: ModelInfo | None) -> Endpoint:
    return Endpoint(
        OPERATOR,
        "openai",
        settings.llm_base_url.rstrip("/"),
        settings.llm_api_key,
        name,
        info,
        "operator",
    )


def _wire(provider: str) -> Wire:
    return "anthropic" if provider == models.ANTHROPIC else "openai"


def _user_key(credential: Any, provider: str, name: str) -> SecretStr:
    if not isinstance(credential, APIKeyCredentials):
        kind = getattr(credential, "type", type(credential).__name__)
        raise LlmCredentialsError(f"model {name} needs an API key credential, not {kind}")
    if credential.provider != provider:
        raise LlmCredentialsError(
            f"the node's credential is for {credential.provider}, but model {name} is "
            f"served by {provider}: choose a {provider} credential"
        )
    return credential.api_key


def resolve_endpoint(
    settings: BlockSettings,
    credentials: Mapping[str, Any],
    request: LlmRequest,
    reference: LlmCredentialsRef | None = None,
) -> Endpoint:
    """The endpoint for ``request`` (see the module docstring), or raise why there is none."""
    name = resolve_model(request.model) or settings.llm_model
    info = model_info(name)
    if info is None:
        if not settings.llm_base_url:
            raise LlmNotConfigured(
                f"model {name!r} is not one of the known models, so only the operator's "
                "endpoint could serve it: set AUTOPLAT_LLM_BASE_URL"
            )
        return _operator(settings, name, None)
    provider = info.provider
    credential = credentials.get(request.credentials_field)
    if provider == models.OLLAMA:
        # Ollama needs no key; one is sent only when a user's own Ollama credential has it
        # (the platform's Ollama "credential" holds the operator's host, not a key).
        key = SecretStr("")
        if (
            isinstance(credential, APIKeyCredentials)
            and credential.provider == provider
            and not credential.is_system
        ):
            key = credential.api_key
        return Endpoint(
            provider,
            "openai",
            ollama_base_url(request.ollama_host, settings),
            key,
            name,
            info,
            "local",
        )
    if credential is not None:
        key = _user_key(credential, provider, name)
        payer: Payer = "platform" if getattr(credential, "is_system", False) else "user"
        return Endpoint(
            provider, _wire(provider), _base_url(provider, settings), key, name, info, payer
        )
    if reference is not None and reference.id != SYSTEM_CREDENTIAL_IDS[provider]:
        if reference.id in SYSTEM_CREDENTIAL_IDS.values():
            raise LlmCredentialsError(
                f"model {name} is served by {provider}, but the node names the platform "
                f"credential of {reference.provider}"
            )
        raise LlmCredentialsError(
            f"the node's credential {reference.id} ({reference.provider}) was not given to "
            "this run: add it in the integrations settings or choose another"
        )
    platform_key = settings.llm_keys.get(provider)
    if platform_key is not None and platform_key.get_secret_value():
        return Endpoint(
            provider,
            _wire(provider),
            _base_url(provider, settings),
            platform_key,
            name,
            info,
            "platform",
        )
    if settings.llm_base_url:
        return _operator(settings, name, info)
    raise LlmNotConfigured(
        # "a credential of the ... provider": the article never depends on the provider's name.
        f"nothing can serve {name} ({PROVIDER_TITLES[provider]}): give the node a credential "
        f"of the {provider} provider, or set {env_name(KEY_SETTINGS[provider])} or "
        "AUTOPLAT_LLM_BASE_URL"
    )
