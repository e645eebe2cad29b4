"""The token an OAuth-or-key integration block sends, and offline self-test credentials.

Invariant: a block reads its secret only through :func:`bearer_token`, which accepts the
credential types the block's pin declares (an API key, or OAuth2 tokens the executor has
already refreshed when they were about to expire) and nothing else; the token is unwrapped
only to build the request's ``Authorization`` header.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.integrations._base import TEST_CREDENTIALS_ID
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError
from autoplat.integrations.model import APIKeyCredentials, OAuth2Credentials


def scoped_credentials_pin(
    provider: str, description: str, types: tuple[str, ...], scopes: tuple[str, ...]
) -> Any:
    """The required ``credentials`` pin, with the OAuth scopes the block needs (AutoGPT's
    ``required_scopes``), so a login started from this block asks for them."""
    return pin(
        advanced=False,
        title="Credentials",
        description=description,
        credentials_provider=[provider],
        credentials_types=list(types),
        credentials_scopes=list(scopes),
    )


def bearer_token(context: BlockContext, *, api_key: bool) -> str:
    """The node's access token (OAuth2) or, when ``api_key``, its API key."""
    credentials = context.credentials.get("credentials")
    if isinstance(credentials, OAuth2Credentials):
        return credentials.access_token.get_secret_value()
    if api_key and isinstance(credentials, APIKeyCredentials):
        return credentials.api_key.get_secret_value()
    kinds = "an API key or OAuth2 credentials" if api_key else "OAuth2 credentials"
    raise BlockRunError(f"this block needs {kinds} on its credentials input")


def mock_oauth_input(provider: str, title: str) -> dict[str, str]:
    """AutoGPT's mock OAuth2 reference in its vectors (titled as its mock credential)."""
    return {"provider": provider, "id": TEST_CREDENTIALS_ID, "type": "oauth2", "title": title}


def oauth_stand_in(
    answer: Callable[[httpx.Request], httpx.Response], provider: str, token: str
) -> Callable[[Any, BlockContext], BlockContext]:
    """A ``test_context``: the client answers offline and the pin resolves to mock tokens
    that do not expire (so nothing tries to refresh them)."""

    def prepare(self: Any, context: BlockContext) -> BlockContext:
        credentials = OAuth2Credentials(
            id=TEST_CREDENTIALS_ID,
            provider=provider,
            access_token=SecretStr(token),
            refresh_token=SecretStr(f"{token}-refresh"),
            title="Mock OAuth2 credentials",
        )
        return dataclasses.replace(
            context,
            http=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
            credentials={**context.credentials, "credentials": credentials},
        )

    return prepare
