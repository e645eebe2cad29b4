"""What every integration block shares: its ``credentials`` pin, its key, and its API calls.

Invariants:

- A block's ``credentials`` pin is declared as AutoGPT's ``CredentialsField`` declares it
  (``credentials_provider``, ``credentials_types`` on the pin), holds only a reference, and is
  required; the executor resolves it into ``context.credentials["credentials"]``.
- A provider's API is reached at ``BlockSettings.provider_url(service)``: the public URL,
  or the operator's replacement (``AUTOPLAT_PROVIDER_BASE_URLS``), never a graph author's.
  Requests go through the run's own vetted client (``context.http``), bodies capped at
  ``http_max_response_bytes``, without following redirects (an API that redirects is
  answered as an error, so a key never travels to another host).
- A secret never reaches an error or an output: errors quote the provider's answer, never
  the request headers, and a secret the request carried (an auth, key or token header's
  value) is blanked out of the answer before anything reads it, so a provider that echoes
  the key back (in a refusal or an echo) hands it to nobody.
- An author's value that becomes one segment of an API path (:func:`path_segment`) is
  quoted whole and may not be ``.`` or ``..``, so it can never climb to another endpoint.
- A provider's job (a prediction, a crawl) is polled by one loop (:func:`poll_until`): a
  fixed pause between reads, and a deadline after which the block gives up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from autoplat.blocks.base import BlockContext, BlockCost
from autoplat.blocks.schema import pin
from autoplat.errors import BlockRunError, TransientBlockError
from autoplat.integrations.model import APIKeyCredentials
from autoplat.integrations.providers import BUILTIN_PROVIDERS

#: AutoGPT's id of its mock credentials in the integration blocks' self-test vectors.
TEST_CREDENTIALS_ID = "01234567-89ab-cdef-0123-456789abcdef"
#: Longest provider answer an error message quotes.
_QUOTE = 300
#: Request headers whose values are secrets (by a part of their lower-cased name).
_SECRET_HEADER_PARTS = ("auth", "key", "token", "secret")
#: Shorter values are not blanked out (too likely to be ordinary text of the answer).
_SHORTEST_SECRET = 8
#: What a secret in an answer is replaced by.
REDACTED = b"[redacted]"

T = TypeVar("T")


class ProviderError(BlockRunError):
    """The provider refused the request or answered something the block cannot read."""

    code = "provider_error"


class ProviderUnavailable(TransientBlockError):
    """The provider could not be reached or failed on its side (5xx): worth a retry."""

    code = "provider_unavailable"


class CredentialsRefInput(BaseModel):
    """A node's credentials reference (AutoGPT's ``CredentialsMetaInput``): no secret."""

    model_config = ConfigDict(extra="ignore", title="CredentialsMetaInput")

    id: str
    title: str | None = None
    provider: str
    type: str = "api_key"


def credentials_pin(provider: str, description: str, types: tuple[str, ...] = ("api_key",)) -> Any:
    """The required ``credentials`` pin of a block calling ``provider``."""
    return pin(
        advanced=False,
        title="Credentials",
        description=description,
        credentials_provider=[provider],
        credentials_types=list(types),
    )


def mock_credentials_input(provider: str) -> dict[str, str]:
    """The reference AutoGPT's vectors put on the pin (its title is the type, as there)."""
    return {"provider": provider, "id": TEST_CREDENTIALS_ID, "type": "api_key", "title": "api_key"}


def platform_cost(provider: str, amount: int, **filters: Any) -> BlockCost:
    """AutoGPT's price of a run on the platform's credential for ``provider`` (a user's own
    key matches no price and costs nothing)."""
    spec = next(s for s in BUILTIN_PROVIDERS if s.name == provider)
    reference = {"id": spec.system_credentials_id, "provider": provider, "type": "api_key"}
    return BlockCost(cost_amount=amount, cost_filter={**filters, "credentials": reference})


def path_segment(value: str, what: str) -> str:
    """``value`` quoted as exactly one path segment; ProviderError for an empty value and
    for ``.`` or ``..`` (which a URL resolves to the same or the parent path)."""
    if value in ("", ".", ".."):
        raise ProviderError(f"{what} {value!r} is not a valid name")
    return urllib.parse.quote(value, safe="")


def _secrets(headers: Mapping[str, str]) -> list[bytes]:
    """The secret values among ``headers``: the whole value and, for ``Bearer <token>``
    and the like, the token alone."""
    found: list[bytes] = []
    for name, value in headers.items():
        if not any(part in name.lower() for part in _SECRET_HEADER_PARTS):
            continue
        for candidate in (value, value.partition(" ")[2]):
            candidate = candidate.strip()
            if len(candidate) >= _SHORTEST_SECRET:
                found.append(candidate.encode("utf-8", "replace"))
    # Longest first, so a token inside a longer value is not left half-blanked.
    return sorted(set(found), key=len, reverse=True)


def redact(content: bytes, secrets: list[bytes]) -> bytes:
    """``content`` with every occurrence of each secret replaced by :data:`REDACTED`."""
    for secret in secrets:
        if secret in content:
            content = content.replace(secret, REDACTED)
    return content


def api_key(context: BlockContext) -> SecretStr:
    """The node's resolved API key; BlockRunError when the executor resolved none."""
    credentials = context.credentials.get("credentials")
    if not isinstance(credentials, APIKeyCredentials):
        raise BlockRunError("this block needs API key credentials on its credentials input")
    return credentials.api_key


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A provider's answer: status, headers and the (capped) body."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def ok(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status < 300

    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ProviderError when it is not."""
        try:
            return json.loads(self.content)
        except ValueError:
            raise ProviderError(f"the provider answered with no JSON: {self.quote()}") from None

    def quote(self) -> str:
        """The start of the body, for error messages."""
        text = self.text().strip()
        return text[:_QUOTE] + ("…" if len(text) > _QUOTE else "")


async def call(
    context: BlockContext,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    **body: Any,
) -> Answer:
    """One request on the run's client; network failures are ProviderUnavailable."""
    limit = context.settings.http_max_response_bytes
    request = context.http.build_request(
        method, url, headers=dict(headers or {}), timeout=context.settings.http_timeout, **body
    )
    host = request.url.host
    try:
        response = await context.http.send(request, stream=True, follow_redirects=False)
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"request to {host} failed: {type(exc).__name__}") from None
    try:
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a compressed answer cannot expand past the cap.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise ProviderError(f"the answer from {host} is larger than {limit} bytes")
            chunks.append(chunk)
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"reading from {host} failed: {type(exc).__name__}") from None
    finally:
        await response.aclose()
    content = redact(b"".join(chunks), _secrets(headers or {}))
    return Answer(response.status_code, response.headers, content)


def raise_for_status(answer: Answer, what: str) -> None:
    """ProviderUnavailable on 5xx, ProviderError on any other non-2xx (``what`` failed)."""
    if answer.ok:
        return
    message = f"{what}: HTTP {answer.status}: {answer.quote()}"
    if answer.status >= 500 or answer.status == 429:
        raise ProviderUnavailable(message)
    raise ProviderError(message)


async def poll_until(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    first: T,
    interval: float,
    timeout: float,
    what: str,
) -> T:
    """Read a job's state (``first`` is the one already at hand) every ``interval`` seconds
    until ``done``; ProviderError naming ``what`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    state = first
    while not done(state):
        if time.monotonic() + interval > deadline:
            raise ProviderError(f"{what} did not finish within {timeout:g} seconds")
        await asyncio.sleep(interval)
        state = await read()
    return state


def stand_in(
    answer: Callable[[httpx.Request], httpx.Response], provider: str, key: str
) -> Callable[[Any, BlockContext], BlockContext]:
    """A ``test_context``: the HTTP client answers offline (AutoGPT mocks the call) and the
    ``credentials`` pin resolves to AutoGPT's mock key for ``provider``."""

    def prepare(self: Any, context: BlockContext) -> BlockContext:
        credentials = APIKeyCredentials(
            id=TEST_CREDENTIALS_ID, provider=provider, api_key=SecretStr(key), title="Mock key"
        )
        return dataclasses.replace(
            context,
            http=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
            credentials={**context.credentials, "credentials": credentials},
        )

    return prepare
