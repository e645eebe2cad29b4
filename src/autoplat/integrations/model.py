"""The credential types blocks receive, and the references graphs carry.

These are the contract between the credentials store (which decrypts them), the executor
(which resolves a node's references before its block runs) and the blocks (which use
them). A secret is a ``SecretStr``: its ``repr`` and ``str`` never show it, so a credential
that reaches a log line or an error message by mistake still shows no secret.

The four types are AutoGPT's (``api_key``, ``oauth2``, ``user_password``, ``host_scoped``)
with its field names, so imported agents' references and exported graphs match.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class CredentialsType(enum.StrEnum):
    """The kinds of credential (AutoGPT's values)."""

    API_KEY = "api_key"
    OAUTH2 = "oauth2"
    USER_PASSWORD = "user_password"
    HOST_SCOPED = "host_scoped"


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    provider: str
    title: str | None = None
    #: A platform (operator) credential offered to every user; charged in credits.
    is_system: bool = False


class APIKeyCredentials(_Base):
    """An API key, optionally with an expiry."""

    type: Literal[CredentialsType.API_KEY] = CredentialsType.API_KEY
    api_key: SecretStr
    expires_at: int | None = Field(default=None, description="Unix time the key expires.")

    def auth_header(self) -> str:
        """``Bearer <key>``."""
        return f"Bearer {self.api_key.get_secret_value()}"


class OAuth2Credentials(_Base):
    """Tokens from an OAuth2 authorization; refreshed by the store before they expire."""

    type: Literal[CredentialsType.OAUTH2] = CredentialsType.OAUTH2
    username: str | None = None
    access_token: SecretStr
    access_token_expires_at: int | None = None
    refresh_token: SecretStr | None = None
    refresh_token_expires_at: int | None = None
    scopes: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    def auth_header(self) -> str:
        """``Bearer <access token>``."""
        return f"Bearer {self.access_token.get_secret_value()}"


class UserPasswordCredentials(_Base):
    """A user name and password (SMTP, basic auth)."""

    type: Literal[CredentialsType.USER_PASSWORD] = CredentialsType.USER_PASSWORD
    username: SecretStr
    password: SecretStr


class HostScopedCredentials(_Base):
    """Headers sent only to one host (``SendAuthenticatedWebRequestBlock``)."""

    type: Literal[CredentialsType.HOST_SCOPED] = CredentialsType.HOST_SCOPED
    host: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)


Credentials = Annotated[
    APIKeyCredentials | OAuth2Credentials | UserPasswordCredentials | HostScopedCredentials,
    Field(discriminator="type"),
]


class CredentialsMeta(BaseModel):
    """A credential as listed and as referenced from graphs: everything but secrets."""

    model_config = ConfigDict(extra="ignore")

    id: str
    provider: str
    type: CredentialsType
    title: str | None = None
    is_system: bool = False
    scopes: list[str] | None = None
    username: str | None = None
    host: str | None = None
    expires_at: datetime | None = None


class CredentialsRef(BaseModel):
    """What a node's credentials input holds: AutoGPT's ``CredentialsMetaInput`` shape."""

    model_config = ConfigDict(extra="ignore")

    id: str
    provider: str
    type: CredentialsType
    title: str | None = None


REFERENCE_KEYS = ("id", "provider", "type", "title")


def is_credentials_key(key: object) -> bool:
    """Whether an input named ``key`` holds credentials (AutoGPT's naming)."""
    return isinstance(key, str) and (key == "credentials" or key.endswith("_credentials"))


def reference_only(value: object) -> dict[str, object] | None:
    """A credentials value reduced to its reference (id, provider, type, title), or None
    when it is not a reference: whatever else it carried (a key, a token) is dropped."""
    if not isinstance(value, dict):
        return None
    if not all(isinstance(value.get(k), str) and value.get(k) for k in ("id", "provider", "type")):
        return None
    return {k: value[k] for k in REFERENCE_KEYS if k in value}
