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
        status = f" ({error['status']})" if error.get("status") else ""
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
    url = f"{context.settings.provider_url(service)}{path}"
    headers = {"Authorization": f"Bearer {bearer_token(context, api_key=False)}"}
    answer = await call(context, method, url, headers=headers, params=params, **body)
    if not answer.ok:
        message = f"Google {service} answered HTTP {answer.status}: {_google_message(answer)}"
        if answer.status >= 500 or answer.status == 429:
            raise ProviderUnavailable(message)
        raise ProviderError(message)
    return answer.json() if answer.content else {}


def json_answer(body: Any, status: int = 200) -> httpx.Response:
    """A stand-in answer (self-tests)."""
    return httpx.Response(status, json=body)
