"""BlockSettings: the only settings a block run can see, taken once from ``Settings``.

Blocks run graph authors' work, so they get the few values they need (outbound HTTP limits,
the LLM endpoints and platform keys, iteration caps) and nothing else: no database URL, no
JWT secret. Secrets stay ``SecretStr`` here too and are unwrapped only at the line that sends
them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from autoplat.blocks.llm.models import KEY_SETTINGS, LLM_PROVIDERS
from autoplat.config import Settings
from autoplat.errors import ConfigError

#: The public service a default setting names (not trusted beyond public addresses).
WIKIPEDIA = "https://en.wikipedia.org"
#: The public APIs the integration blocks call, by the key ``AUTOPLAT_PROVIDER_BASE_URLS``
#: replaces them under (operators' proxies, tests' stand-ins).
PROVIDER_BASE_URLS: Mapping[str, str] = {
    "jina_search": "https://s.jina.ai",
    "jina_reader": "https://r.jina.ai",
    "google_maps": "https://places.googleapis.com",
    "ideogram": "https://api.ideogram.ai",
    "replicate": "https://api.replicate.com",
    "medium": "https://api.medium.com",
    "youtube": "https://www.youtube.com",
    "discord": "https://discord.com/api",
    "e2b": "https://api.e2b.app",
    "exa": "https://api.exa.ai",
    "firecrawl": "https://api.firecrawl.dev",
    "github": "https://api.github.com",
    "google_sheets": "https://sheets.googleapis.com",
    "gmail": "https://gmail.googleapis.com",
    # Empty: each sandbox at https://49999-{id}.{domain}; set: one host for every sandbox.
    "e2b_sandbox": "",
}


def _no_keys() -> Mapping[str, SecretStr]:
    return {}


def _no_urls() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True)
class BlockSettings:
    """What a block may read of the platform's settings (immutable)."""

    http_allow_private: bool = False
    http_timeout: float = 30.0
    http_max_response_bytes: int = 10_000_000
    llm_base_url: str = ""
    llm_api_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    llm_model: str = "gpt-4o-mini"
    #: Platform keys by LLM provider (``openai``, ``anthropic``...): the system credentials.
    llm_keys: Mapping[str, SecretStr] = field(default_factory=_no_keys)
    #: Base URLs replacing a provider's public API (operators' proxies, tests).
    llm_provider_urls: Mapping[str, str] = field(default_factory=_no_urls)
    #: The operator's Ollama server; replaces the ``ollama_host`` pin's default.
    ollama_host: str = ""
    #: Retries of one LLM call on 429, 5xx and network errors, and the longest wait between.
    llm_retries: int = 3
    llm_retry_max_wait: float = 30.0
    #: The read timeout of one LLM call: a completion may take as long as the node may.
    node_timeout: float = 300.0
    step_through_max_items: int = 10_000
    #: Largest file a block run may store, fetch or read (uploads have the same limit).
    file_max_bytes: int = 25_000_000
    #: Wikipedia's base URL (operators' mirrors, tests' stand-ins): trusted like LLM ones.
    wikipedia_base_url: str = WIKIPEDIA
    #: The operator's replacements of the integration blocks' public APIs (trusted likewise).
    provider_base_urls: Mapping[str, str] = field(default_factory=_no_urls)

    @classmethod
    def from_settings(cls, settings: Settings) -> BlockSettings:
        """The block view of ``settings``; built once by the composition root."""
        unknown = sorted(set(settings.llm_provider_urls) - set(LLM_PROVIDERS))
        if unknown:
            raise ConfigError(
                f"AUTOPLAT_LLM_PROVIDER_URLS: unknown provider {', '.join(unknown)} "
                f"(known: {', '.join(LLM_PROVIDERS)})"
            )
        for provider, url in settings.llm_provider_urls.items():
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise ConfigError(
                    f"AUTOPLAT_LLM_PROVIDER_URLS: the URL for {provider} must be http(s)"
                )
        unknown = sorted(set(settings.provider_base_urls) - set(PROVIDER_BASE_URLS))
        if unknown:
            raise ConfigError(
                f"AUTOPLAT_PROVIDER_BASE_URLS: unknown service {', '.join(unknown)} "
                f"(known: {', '.join(PROVIDER_BASE_URLS)})"
            )
        for service, url in settings.provider_base_urls.items():
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise ConfigError(
                    f"AUTOPLAT_PROVIDER_BASE_URLS: the URL for {service} must be http(s)"
                )
        # The platform keys are the credentials store's settings; KEY_SETTINGS names them.
        keys = {p: getattr(settings, name, None) for p, name in KEY_SETTINGS.items()}
        return cls(
            http_allow_private=settings.http_allow_private,
            http_timeout=settings.http_timeout,
            http_max_response_bytes=settings.http_max_response_bytes,
            llm_base_url=settings.llm_base_url,
            llm_api_key=settings.llm_api_key,
            llm_model=settings.llm_model,
            llm_keys={p: k for p, k in keys.items() if isinstance(k, SecretStr)},
            llm_provider_urls=dict(settings.llm_provider_urls),
            ollama_host=str(getattr(settings, "ollama_host", "") or ""),
            llm_retries=settings.llm_retries,
            llm_retry_max_wait=settings.llm_retry_max_wait,
            node_timeout=settings.node_timeout,
            step_through_max_items=settings.step_through_max_items,
            file_max_bytes=settings.file_max_bytes,
            wikipedia_base_url=settings.wikipedia_base_url.rstrip("/"),
            provider_base_urls={k: v.rstrip("/") for k, v in settings.provider_base_urls.items()},
        )

    def llm_endpoints(self) -> list[str]:
        """Every LLM base URL the operator configured (for outbound HTTP to trust)."""
        urls = [self.llm_base_url, *self.llm_provider_urls.values()]
        if self.ollama_host:
            host = self.ollama_host
            urls.append(host if "://" in host else f"http://{host}")
        return [url for url in urls if url]

    def operator_endpoints(self) -> list[str]:
        """Every base URL the operator (not a graph author) configured: the LLM endpoints
        and the services blocks call (outbound HTTP trusts them whatever their address)."""
        services = [self.wikipedia_base_url] if self.wikipedia_base_url != WIKIPEDIA else []
        return [*self.llm_endpoints(), *services, *self.provider_base_urls.values()]

    def provider_url(self, service: str) -> str:
        """The base URL of an integration's API (``PROVIDER_BASE_URLS`` key), no trailing /."""
        return self.provider_base_urls.get(service) or PROVIDER_BASE_URLS[service]
