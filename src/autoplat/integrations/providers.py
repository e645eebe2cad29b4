"""The provider registry: who credentials can be for, how, and what the operator configured.

Invariant: a provider is known when it is in :data:`BUILTIN_PROVIDERS` or when some block's
credentials input names it; nothing else is accepted as a provider. A provider's OAuth is
*available* only when the platform has a handler for it AND the operator set its client id
and secret; otherwise it is listed as unavailable and its login answers
``provider_not_configured`` (409), never an error of the server.

System (platform) credentials are the operator's keys from the settings, offered to every
user under stable ids (AutoGPT's ids where AutoGPT has one, so imported agents that
reference them keep working). They exist only in memory; their secrets are never returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from autoplat.blocks.base import Block
from autoplat.config import Settings
from autoplat.errors import ProviderNotConfigured, ProviderNotFound
from autoplat.integrations.fields import credentials_fields
from autoplat.integrations.model import APIKeyCredentials, CredentialsType
from autoplat.integrations.oauth import OAUTH_HANDLERS, OAuthHandler

_API, _OAUTH = CredentialsType.API_KEY, CredentialsType.OAUTH2
#: Namespace of the ids of system credentials AutoGPT has no id for.
_SYSTEM_NAMESPACE = uuid.UUID("5b0f7a9e-6a51-4d3c-9a43-5c1d2e7f8a90")


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: the credential types it takes and where its platform key comes from."""

    name: str
    types: tuple[CredentialsType, ...]
    #: The ``Settings`` field holding the operator's key for every user, if any.
    system_setting: str | None = None
    system_id: str | None = None
    title: str = ""

    @property
    def system_credentials_id(self) -> str:
        """The stable id of this provider's system credential."""
        return self.system_id or str(uuid.uuid5(_SYSTEM_NAMESPACE, self.name))


def _llm(name: str, system_id: str | None, title: str, setting: str | None = None) -> ProviderSpec:
    return ProviderSpec(name, (_API,), setting or f"{name}_api_key", system_id, title)


BUILTIN_PROVIDERS: tuple[ProviderSpec, ...] = (
    _llm("openai", "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a", "OpenAI"),
    _llm("anthropic", "24e5d942-d9e3-4798-8151-90143ee55629", "Anthropic"),
    _llm("groq", "4ec22295-8f97-4dd1-b42b-2c6957a02545", "Groq"),
    _llm("open_router", "b5a0e27d-0c98-4df3-a4b9-10193e1f3c40", "Open Router"),
    _llm("ollama", "744fdc56-071a-4761-b5a5-0af0ce10a2b5", "Ollama", "ollama_host"),
    _llm("llama_api", "d44045af-1c33-4833-9e19-752313214de2", "Llama API", "llama_api_key"),
    _llm("aiml_api", "aad82a89-9794-4ebb-977f-d736aa5260a3", "AI/ML API", "aiml_api_key"),
    _llm("v0", "c4e6d1a0-3b5f-4789-a8e2-9b123456789f", "v0 by Vercel"),
    _llm("jina", "7f26de70-ba0d-494e-ba76-238e65e7b45f", "Jina"),
    _llm("replicate", "6b9fc200-4726-4973-86c9-cd526f5ce5db", "Replicate"),
    _llm("ideogram", "760f84fc-b270-42de-91f6-08efe1b512d0", "Ideogram"),
    _llm("e2b", "78d19fd7-4d59-4a16-8277-3ce310acf2b7", "E2B"),
    _llm("exa", "96153e04-9c6c-4486-895f-5bb683b1ecec", "Exa search"),
    _llm("firecrawl", None, "Firecrawl"),
    ProviderSpec("github", (_API, _OAUTH), title="GitHub"),
    ProviderSpec("google", (_OAUTH,), title="Google"),
    ProviderSpec("discord", (_API, _OAUTH), title="Discord"),
    ProviderSpec("http", (CredentialsType.HOST_SCOPED,), title="HTTP (host-scoped headers)"),
    ProviderSpec("smtp", (CredentialsType.USER_PASSWORD,), title="SMTP"),
)


@dataclass(frozen=True)
class ProviderInfo:
    """What ``GET /api/integrations/providers`` shows of one provider."""

    name: str
    title: str
    credentials_types: list[CredentialsType]
    oauth: bool
    oauth_configured: bool
    system_credentials: bool
    default_scopes: list[str] = field(default_factory=list)


def _system_value(settings: Settings, setting: str) -> str:
    value: Any = getattr(settings, setting, "")
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")


class ProviderRegistry:
    """The known providers, their OAuth handlers and the platform's system credentials."""

    def __init__(
        self, settings: Settings, http: httpx.AsyncClient, blocks: Iterable[Block[Any]] = ()
    ) -> None:
        self.settings = settings
        self._http = http
        specs = {spec.name: spec for spec in BUILTIN_PROVIDERS}
        for block in blocks:
            for cf in credentials_fields(block):
                for name in cf.providers:
                    types = tuple(CredentialsType(t) for t in cf.types if t in _TYPE_VALUES)
                    known = specs.get(name)
                    if known is None:
                        specs[name] = ProviderSpec(name, types or (_API,), title=name)
                    elif not set(types) <= set(known.types):
                        merged = tuple(dict.fromkeys((*known.types, *types)))
                        specs[name] = ProviderSpec(
                            name, merged, known.system_setting, known.system_id, known.title
                        )
        self._specs = dict(sorted(specs.items()))
        self._handlers: dict[str, OAuthHandler] = {}
        self._system = {c.id: c for c in self._system_credentials()}

    # --- providers ----------------------------------------------------------------------

    def get(self, name: str) -> ProviderSpec | None:
        """The provider named ``name``, if known."""
        return self._specs.get(name)

    def require(self, name: str) -> ProviderSpec:
        """The provider named ``name``, or ProviderNotFound (404)."""
        spec = self._specs.get(name)
        if spec is None:
            raise ProviderNotFound(f"unknown provider {name[:100]!r}")
        return spec

    def names(self) -> list[str]:
        """Every known provider, sorted."""
        return list(self._specs)

    def describe(self) -> list[ProviderInfo]:
        """Every provider as listed to users, sorted by name."""
        system = {c.provider for c in self._system.values()}
        return [
            ProviderInfo(
                name=spec.name,
                title=spec.title or spec.name,
                credentials_types=list(spec.types),
                oauth=spec.name in OAUTH_HANDLERS,
                oauth_configured=self.oauth_configured(spec.name),
                system_credentials=spec.name in system,
                default_scopes=list(OAUTH_HANDLERS[spec.name].default_scopes)
                if spec.name in OAUTH_HANDLERS
                else [],
            )
            for spec in self._specs.values()
        ]

    # --- OAuth --------------------------------------------------------------------------

    def _client(self, name: str) -> tuple[str, SecretStr]:
        client_id = str(getattr(self.settings, f"{name}_client_id", "") or "")
        secret = getattr(self.settings, f"{name}_client_secret", None)
        return client_id, secret if isinstance(secret, SecretStr) else SecretStr("")

    def oauth_configured(self, name: str) -> bool:
        """Whether logins with ``name`` can start (handler present, client id and secret set)."""
        if name not in OAUTH_HANDLERS:
            return False
        client_id, secret = self._client(name)
        return bool(client_id and secret.get_secret_value())

    def oauth_handler(self, name: str) -> OAuthHandler:
        """The handler for ``name``; 404 if it has no OAuth, 409 if it is not configured."""
        self.require(name)
        handler_class = OAUTH_HANDLERS.get(name)
        if handler_class is None:
            raise ProviderNotFound(f"provider {name!r} does not support OAuth")
        if not self.oauth_configured(name):
            upper = name.upper()
            raise ProviderNotConfigured(
                f"OAuth with {name!r} is not available on this platform (the operator sets "
                f"AUTOPLAT_{upper}_CLIENT_ID and AUTOPLAT_{upper}_CLIENT_SECRET)"
            )
        handler = self._handlers.get(name)
        if handler is None:
            client_id, secret = self._client(name)
            base = self.settings.oauth_base_urls.get(name, "")
            handler = handler_class(client_id, secret, self._http, base_url=base)
            self._handlers[name] = handler
        return handler

    def oauth_handler_if_configured(self, name: str) -> OAuthHandler | None:
        """The handler for ``name`` when OAuth with it is available, else None."""
        return self.oauth_handler(name) if self.oauth_configured(name) else None

    # --- system credentials -------------------------------------------------------------

    def _system_credentials(self) -> list[APIKeyCredentials]:
        out = []
        for spec in self._specs.values():
            if spec.system_setting is None:
                continue
            value = _system_value(self.settings, spec.system_setting)
            if not value:
                continue
            # Ollama needs no key: the setting is its host, which blocks read themselves.
            key = "" if spec.name == "ollama" else value
            out.append(
                APIKeyCredentials(
                    id=spec.system_credentials_id,
                    provider=spec.name,
                    title=f"Use Credits for {spec.title or spec.name}",
                    api_key=SecretStr(key),
                    is_system=True,
                )
            )
        return out

    def system_credentials(self) -> list[APIKeyCredentials]:
        """The platform's credentials every user may use, by provider name."""
        return list(self._system.values())

    def system_credential(self, credentials_id: str) -> APIKeyCredentials | None:
        """The system credential with this id, if the operator configured it."""
        return self._system.get(credentials_id)

    def is_system_id(self, credentials_id: str) -> bool:
        """Whether the id is that of a system credential, configured or not."""
        return credentials_id in _SYSTEM_IDS or any(
            spec.system_setting and spec.system_credentials_id == credentials_id
            for spec in self._specs.values()
        )


_TYPE_VALUES = {t.value for t in CredentialsType}
_SYSTEM_IDS = frozenset(s.system_credentials_id for s in BUILTIN_PROVIDERS if s.system_setting)
