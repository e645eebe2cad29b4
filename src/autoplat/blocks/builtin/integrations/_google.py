"""What the Google blocks share: the OAuth2 pin with its scopes, and one REST call.

Invariants: Google blocks take only ``google`` OAuth2 credentials (AutoGPT's
``GoogleCredentialsField``), declaring the scopes each needs so a login from the block asks
for them; requests carry ``Authorization: Bearer <access token>`` — the executor has
refreshed the token first when it was about to expire — and go only to the service's base
URL (``provider_url``: Google's, or the operator's replacement). Google's error body
(``{"error": {"code", "message", "status"}}``) becomes the block's error, without headers.
"""

from __future__ import annotations

from typing import Any

import httpx

from autoplat.blocks.base import BlockContext
from autoplat.blocks.builtin.integrations._base import (
    Answer,
    ProviderError,
    ProviderUnavailable,
    call,
)
from autoplat.blocks.builtin.integrations._tokens import (
    bearer_token,
    mock_oauth_input,
    scoped_credentials_pin,
)

PROVIDER = "google"
_DESCRIPTION = "The Google integration requires OAuth2 authentication."
#: AutoGPT's mock Google credential, as its vectors reference it.
MOCK_INPUT = mock_oauth_input(PROVIDER, "Mock Google OAuth2 Credentials")
MOCK_TOKEN = "mock-google-access-token"


def google_credentials_pin(*scopes: str) -> Any:
    """The ``credentials`` pin of a Google block needing ``scopes``."""
    return scoped_credentials_pin(PROVIDER, _DESCRIPTION, ("oauth2",), scopes)


def _google_message(answer: Answer) -> str:
    try:
        body = answer.json()
    except ProviderError:
        return answer.quote()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        # Both fields are Google's text: each is cut short, so no answer can swell an error.
        status = f" ({str(error['status'])[:100]})" if error.get("status") else ""
        return f"{str(error['message'])[:300]}{status}"
    return answer.quote()


async def request(
    context: BlockContext,
    service: str,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    **body: Any,
) -> Any:
    """``method`` ``path`` on the Google ``service`` (a ``PROVIDER_BASE_URLS`` key): JSON."""
    found = await answer(context, service, method, path, params=params, **body)
    return found.json() if found.content else {}


async def answer(
    context: BlockContext,
    service: str,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    **body: Any,
) -> Answer:
    """The 2xx answer of ``method`` ``path`` on ``service``; ProviderError (or, for 429
    and 5xx, ProviderUnavailable) with Google's message otherwise."""
    url = f"{context.settings.provider_url(service)}{path}"
    headers = {"Authorization": f"Bearer {bearer_token(context, api_key=False)}"}
    found = await call(context, method, url, headers=headers, params=params, **body)
    if not found.ok:
        message = f"Google {service} answered HTTP {found.status}: {_google_message(found)}"
        if found.status >= 500 or found.status == 429:
            raise ProviderUnavailable(message)
        raise ProviderError(message)
    return found


def json_answer(body: Any, status: int = 200) -> httpx.Response:
    """A stand-in answer (self-tests)."""
    return httpx.Response(status, json=body)
