"""One LLM call: route it, send it in the provider's wire format, retry, parse, count usage.

Invariants:

- Retries are bounded: at most ``llm_retries`` more attempts, on 408/409/429/5xx answers
  and network errors, waiting the provider's ``Retry-After`` (``retry-after-ms`` too) or an
  exponential backoff with jitter, never longer than ``llm_retry_max_wait``; a provider that
  asks for longer fails the call at once. What survives these retries fails the node as a
  plain BlockRunError: the executor's own quick retries would ignore ``Retry-After``.
- No key ever reaches an error message or a log line: error bodies are scrubbed of the key
  that was sent, and transport errors are reported by their type only.
- Usage is counted in ``context.extra["llm_usage"]`` (AutoGPT's node-stats names, summed
  over every call and retry of the node run) and returned on ``LlmResponse.usage``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from autoplat.blocks.base import BlockContext
from autoplat.blocks.llm.anthropic_wire import anthropic_payload, parse_anthropic
from autoplat.blocks.llm.credentials import LlmCredentialsRef
from autoplat.blocks.llm.models import DEFAULT_MAX_OUTPUT
from autoplat.blocks.llm.openai_wire import openai_payload, parse_openai
from autoplat.blocks.llm.prompting import estimate_tokens
from autoplat.blocks.llm.routing import Endpoint, resolve_endpoint
from autoplat.blocks.llm.types import (
    LlmApiError,
    LlmBadResponse,
    LlmContextTooLong,
    LlmRateLimited,
    LlmRequest,
    LlmResponse,
    LlmUnavailable,
    Usage,
)
from autoplat.blocks.settings import BlockSettings
from autoplat.logging import get_logger

log = get_logger("autoplat.blocks.llm")

#: The key of the usage counters in ``BlockContext.extra`` (read by the executor).
USAGE_KEY: Final = "llm_usage"
USAGE_FIELDS: Final = (
    "llm_call_count",
    "llm_retry_count",
    "input_token_count",
    "output_token_count",
    "cache_read_token_count",
    "cache_creation_token_count",
)
_RETRYABLE: Final = frozenset({408, 409, 429})
_CONTEXT_LENGTH = re.compile(
    r"context[ _]length|context window|maximum context|prompt is too long|too many tokens",
    re.IGNORECASE,
)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long one call is retried (``sleep`` is a seam for tests)."""

    retries: int = 3
    max_wait: float = 30.0
    base_delay: float = 0.5
    sleep: Sleep = asyncio.sleep

    @classmethod
    def from_settings(cls, settings: BlockSettings) -> RetryPolicy:
        """The policy the operator configured."""
        return cls(retries=settings.llm_retries, max_wait=settings.llm_retry_max_wait)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with ±25 % jitter for retry ``attempt`` (from 0)."""
        delay: float = self.base_delay * 2**attempt * random.uniform(0.75, 1.25)
        return min(delay, self.max_wait)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the provider asks to wait (``retry-after-ms`` or ``retry-after``), if any."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every given secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def error_detail(response: httpx.Response, key: str) -> str:
    """The provider's own explanation (at most 500 characters), without the key."""
    try:
        data = response.json()
    except ValueError:
        detail = response.text
    else:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            detail = str(error.get("message", error))
        elif isinstance(error, str):
            detail = error
        else:
            detail = json.dumps(data)
    return scrub(detail, key)[:500]


def _counters(context: BlockContext) -> dict[str, int]:
    counters: dict[str, int] = context.extra.setdefault(USAGE_KEY, dict.fromkeys(USAGE_FIELDS, 0))
    return counters


def record_usage(context: BlockContext, usage: Usage) -> None:
    """Add one answered call to the node run's counters."""
    counters = _counters(context)
    counters["llm_call_count"] += 1
    counters["input_token_count"] += usage.prompt_tokens
    counters["output_token_count"] += usage.completion_tokens
    counters["cache_read_token_count"] += usage.cache_read_tokens
    counters["cache_creation_token_count"] += usage.cache_creation_tokens


def record_retry(context: BlockContext) -> None:
    """Count one more attempt (a transient failure, or a re-ask for a usable answer)."""
    _counters(context)["llm_retry_count"] += 1


def output_budget(endpoint: Endpoint, request: LlmRequest) -> int | None:
    """The ``max_tokens`` to send: what the user asked, within the model and its context.

    Like AutoGPT: the smallest of the requested length, the model's output limit and the
    context window left after the prompt, at least 1. An operator model outside the table
    gets only what the user asked for.
    """
    info = endpoint.info
    if info is None:
        return request.max_tokens
    wanted = request.max_tokens or info.output_limit
    room = max(info.context_window - estimate_tokens(request.messages), 0)
    return max(min(room, info.output_limit, wanted), 1)


def _payload(endpoint: Endpoint, request: LlmRequest) -> tuple[str, dict[str, Any]]:
    budget = output_budget(endpoint, request)
    if endpoint.wire == "anthropic":
        body = anthropic_payload(
            request, model=endpoint.model, max_tokens=budget or DEFAULT_MAX_OUTPUT
        )
        return f"{endpoint.base_url}/messages", body
    body = openai_payload(
        request,
        model=endpoint.model,
        max_tokens=budget,
        token_param=endpoint.token_param,
        o_series=endpoint.o_series,
    )
    return f"{endpoint.base_url}/chat/completions", body


async def _post(
    context: BlockContext, endpoint: Endpoint, url: str, body: dict[str, Any], policy: RetryPolicy
) -> Any:
    key = endpoint.key.get_secret_value()
    settings = context.settings
    timeout = httpx.Timeout(settings.node_timeout, connect=settings.http_timeout)
    attempt = 0
    while True:
        problem: LlmRateLimited | LlmUnavailable
        try:
            response = await context.http.post(
                url, json=body, headers=endpoint.headers(), timeout=timeout
            )
        except httpx.TransportError as exc:
            problem = LlmUnavailable(
                f"{endpoint.title} could not be reached ({type(exc).__name__})"
            )
            wait = policy.backoff(attempt)
        else:
            status = response.status_code
            if status < 400:
                try:
                    return response.json()
                except ValueError:
                    raise LlmBadResponse(f"{endpoint.title} answered with no JSON") from None
            message = f"{endpoint.title} answered {status}: {error_detail(response, key)}"
            if status not in _RETRYABLE and status < 500:
                if status == 400 and _CONTEXT_LENGTH.search(message):
                    raise LlmContextTooLong(message, upstream_status=status)
                raise LlmApiError(message, upstream_status=status)
            problem = LlmRateLimited(message) if status == 429 else LlmUnavailable(message)
            asked = retry_after(response.headers)
            if asked is not None and asked > policy.max_wait:
                raise type(problem)(f"{message} (asked to wait {asked:g} s)")
            wait = policy.backoff(attempt) if asked is None else asked
        if attempt >= policy.retries:
            raise problem
        attempt += 1
        record_retry(context)
        log.info("llm.retrying", provider=endpoint.provider, attempt=attempt, wait=round(wait, 3))
        await policy.sleep(wait)


async def call_llm(
    context: BlockContext,
    request: LlmRequest,
    *,
    reference: LlmCredentialsRef | None = None,
    policy: RetryPolicy | None = None,
) -> LlmResponse:
    """Send one request to the model's provider and return its answer.

    ``reference`` is the node's ``credentials`` pin value: it decides between a platform key
    and an error when the executor resolved no credential. Raises the ``Llm*`` errors of
    :mod:`autoplat.blocks.llm.types` (all BlockRunError, so the node fails with the reason).
    """
    endpoint = resolve_endpoint(context.settings, context.credentials, request, reference)
    url, body = _payload(endpoint, request)
    data = await _post(
        context, endpoint, url, body, policy or RetryPolicy.from_settings(context.settings)
    )
    if endpoint.wire == "anthropic":
        structured = (request.json_output or request.json_schema is not None) and not request.tools
        response = parse_anthropic(data, model=endpoint.model, structured=structured)
    else:
        response = parse_openai(data, provider=endpoint.provider, model=endpoint.model)
    record_usage(context, response.usage)
    return response
