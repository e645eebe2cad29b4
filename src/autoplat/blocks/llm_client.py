"""OpenAI-compatible chat-completions client shared by the LLM blocks.

Every LLM block talks to ``POST {settings.llm_base_url}/chat/completions`` with the
operator's key, whatever provider an imported graph names: exported graphs never carry
credentials, and the node's ``model`` is passed through (empty → ``settings.llm_model``).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from autoplat.blocks.base import BlockContext, BlockCost
from autoplat.blocks.templating import render_template
from autoplat.errors import BlockRunError, TransientBlockError

DEFAULT_MODEL = "gpt-5.2-2025-12-11"

# Flat credits per call by model (the MODEL_COST tiers of blocks.md §7); other models cost
# the last, filterless entry. Operators override these with settings.block_costs.
MODEL_COSTS: tuple[BlockCost, ...] = (
    BlockCost(cost_amount=6, cost_filter={"model": "gpt-5.2-2025-12-11"}),
    BlockCost(cost_amount=3, cost_filter={"model": "gpt-4o"}),
    BlockCost(cost_amount=1, cost_filter={"model": "gpt-4o-mini"}),
    BlockCost(cost_amount=1),
)

Message = dict[str, Any]


class LlmNotConfigured(BlockRunError):
    """No LLM endpoint is configured."""

    code = "llm_not_configured"


@dataclass(slots=True)
class LlmReply:
    """Text of one completion with its token usage."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _record_usage(context: BlockContext, reply: LlmReply) -> None:
    """Accumulate token usage in ``context.extra['llm_usage']`` for the node's stats."""
    usage = context.extra.setdefault(
        "llm_usage", {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    )
    usage["calls"] += 1
    usage["prompt_tokens"] += reply.prompt_tokens
    usage["completion_tokens"] += reply.completion_tokens


def _error_detail(response: httpx.Response, key: str) -> str:
    """The endpoint's own explanation, without the key should the endpoint echo it."""
    try:
        data = response.json()
    except ValueError:
        detail = response.text
    else:
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            detail = str(data["error"].get("message", data["error"]))
        else:
            detail = json.dumps(data)
    return (detail.replace(key, "***") if key else detail)[:500]


async def chat_completion(
    context: BlockContext,
    *,
    model: str,
    messages: list[Message],
    max_tokens: int | None = None,
    json_mode: bool = False,
) -> LlmReply:
    """One chat completion; 429/5xx/network problems raise TransientBlockError."""
    settings = context.settings
    base_url = settings.llm_base_url.rstrip("/")
    if not base_url:
        raise LlmNotConfigured(
            "no LLM endpoint is configured: set AUTOPLAT_LLM_BASE_URL to an "
            "OpenAI-compatible API (e.g. https://api.openai.com/v1)"
        )
    payload: dict[str, Any] = {"model": model or settings.llm_model, "messages": messages}
    if max_tokens:
        payload["max_tokens"] = max_tokens
    if json_mode:
        payload["response_format"] = {"type": "json_object"}
    key = settings.llm_api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(settings.node_timeout, connect=settings.http_timeout)
    try:
        response = await context.http.post(
            f"{base_url}/chat/completions", json=payload, headers=headers, timeout=timeout
        )
    except httpx.TransportError as exc:
        raise TransientBlockError(f"LLM request failed: {exc!r}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientBlockError(
            f"LLM endpoint answered {response.status_code}: {_error_detail(response, key)}"
        )
    if response.status_code >= 400:
        raise BlockRunError(
            f"LLM endpoint answered {response.status_code}: {_error_detail(response, key)}"
        )
    try:
        data = response.json()
        text = data["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BlockRunError(
            f"unexpected LLM response: {_error_detail(response, key)[:300]}"
        ) from exc
    usage = data.get("usage") or {}
    reply = LlmReply(
        text=str(text),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )
    _record_usage(context, reply)
    return reply


async def render_prompts(
    prompt: str, sys_prompt: str, prompt_values: dict[str, Any]
) -> tuple[str, str]:
    """Fill ``{{name}}`` placeholders of both prompts when values are given."""
    if not prompt_values:
        return prompt, sys_prompt
    return (
        await render_template(prompt, prompt_values),
        await render_template(sys_prompt, prompt_values) if sys_prompt else sys_prompt,
    )


def format_instructions(expected_format: dict[str, str], list_result: bool, tag: str) -> str:
    """System message asking for JSON with exactly the expected keys, in tagged output."""
    fields = ",\n".join(f'  "{key}": "{desc}"' for key, desc in expected_format.items())
    shape = "a JSON array of objects, each" if list_result else "a JSON object"
    return (
        f"Reply with {shape} having exactly these keys (values describe what to put there):\n"
        f"{{\n{fields}\n}}\n"
        f'Wrap the JSON in <json_output id="{tag}"> and </json_output>; '
        "write nothing else inside those tags."
    )


def new_tag() -> str:
    """A random id for the output tags of one call."""
    return secrets.token_hex(8)


def _candidates(text: str, tag: str) -> list[str]:
    tagged = re.findall(
        rf'<json_output id="{re.escape(tag)}">(.*?)</json_output>', text, flags=re.DOTALL
    )
    if tagged:
        return [tagged[-1]]
    found = [text]
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL)
    if fence:
        found.append(fence.group(1))
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            found.append(text[start : end + 1])
    return found


def parse_structured(
    text: str, expected_format: dict[str, str], list_result: bool, tag: str
) -> dict[str, Any] | list[dict[str, Any]]:
    """Extract and check the JSON reply; raise ValueError explaining what is wrong."""
    parsed: Any = None
    for candidate in _candidates(text, tag):
        try:
            parsed = json.loads(candidate.strip())
            break
        except ValueError:
            continue
    else:
        raise ValueError("the reply does not contain valid JSON")
    if list_result and isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
        parsed = parsed["results"]
    items = parsed if list_result else [parsed]
    if not isinstance(items, list):
        raise ValueError("expected a JSON array")
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("expected JSON objects")
        missing = [key for key in expected_format if key not in item]
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
    return items if list_result else items[0]
