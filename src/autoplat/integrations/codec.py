"""Splitting a credential into its secret document and its showable metadata, and back.

Invariant: :func:`split` puts every ``SecretStr`` field (and only those) into the secret
document, which the store encrypts; everything else goes to ``meta``, which may be shown.
:func:`meta_of` builds what lists and responses show from a row WITHOUT decrypting it, so
listing credentials never needs (or risks exposing) a secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, TypeAdapter

from autoplat.integrations.model import (
    APIKeyCredentials,
    Credentials,
    CredentialsMeta,
    CredentialsType,
    OAuth2Credentials,
    UserPasswordCredentials,
)

_CREDENTIALS: TypeAdapter[Credentials] = TypeAdapter(Credentials)


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def split(credentials: Credentials) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(secret document, meta)`` of a credential."""
    if isinstance(credentials, APIKeyCredentials):
        return (
            {"api_key": credentials.api_key.get_secret_value()},
            {"expires_at": credentials.expires_at},
        )
    if isinstance(credentials, OAuth2Credentials):
        return (
            {
                "access_token": credentials.access_token.get_secret_value(),
                "refresh_token": _plain(credentials.refresh_token),
            },
            {
                "username": credentials.username,
                "scopes": list(credentials.scopes),
                "access_token_expires_at": credentials.access_token_expires_at,
                "refresh_token_expires_at": credentials.refresh_token_expires_at,
                "metadata": dict(credentials.metadata),
            },
        )
    if isinstance(credentials, UserPasswordCredentials):
        return (
            {
                "username": credentials.username.get_secret_value(),
                "password": credentials.password.get_secret_value(),
            },
            {},
        )
    return (
        {"headers": {k: v.get_secret_value() for k, v in credentials.headers.items()}},
        {"host": credentials.host},
    )


def join(
    *,
    id: str,
    provider: str,
    type: str,
    title: str | None,
    secret: dict[str, Any],
    meta: dict[str, Any],
) -> Credentials:
    """The credential stored as these parts (secret document already decrypted)."""
    data: dict[str, Any] = {"id": id, "provider": provider, "type": type, "title": title}
    kind = CredentialsType(type)
    if kind == CredentialsType.API_KEY:
        data.update(api_key=secret["api_key"], expires_at=meta.get("expires_at"))
    elif kind == CredentialsType.OAUTH2:
        data.update(
            access_token=secret["access_token"],
            refresh_token=secret.get("refresh_token"),
            username=meta.get("username"),
            scopes=list(meta.get("scopes") or []),
            access_token_expires_at=meta.get("access_token_expires_at"),
            refresh_token_expires_at=meta.get("refresh_token_expires_at"),
            metadata=dict(meta.get("metadata") or {}),
        )
    elif kind == CredentialsType.USER_PASSWORD:
        data.update(username=secret["username"], password=secret["password"])
    else:
        data.update(host=meta.get("host", ""), headers=dict(secret.get("headers") or {}))
    return _CREDENTIALS.validate_python(data)


def _when(unix: Any) -> datetime | None:
    return datetime.fromtimestamp(int(unix), UTC) if isinstance(unix, int | float) else None


def meta_of(
    *,
    id: str,
    provider: str,
    type: str,
    title: str | None,
    meta: dict[str, Any],
    is_system: bool = False,
) -> CredentialsMeta:
    """What may be shown of a credential: no secret, not even the user name of a password."""
    kind = CredentialsType(type)
    oauth = kind == CredentialsType.OAUTH2
    return CredentialsMeta(
        id=id,
        provider=provider,
        type=kind,
        title=title,
        is_system=is_system,
        scopes=list(meta.get("scopes") or []) if oauth else None,
        username=meta.get("username") if oauth else None,
        host=meta.get("host") if kind == CredentialsType.HOST_SCOPED else None,
        expires_at=_when(meta.get("expires_at")) if kind == CredentialsType.API_KEY else None,
    )


def meta_of_credentials(credentials: Credentials) -> CredentialsMeta:
    """:func:`meta_of` for a credential in hand (a system credential, a new one)."""
    _, meta = split(credentials)
    return meta_of(
        id=credentials.id,
        provider=credentials.provider,
        type=credentials.type.value,
        title=credentials.title,
        meta=meta,
        is_system=credentials.is_system,
    )
