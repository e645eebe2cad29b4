"""The Chat Completions wire format (OpenAI, and every OpenAI-compatible provider).

Invariant: only keys the format defines leave here (a message keeps ``role``, ``content``,
``name``, ``tool_calls`` and ``tool_call_id``), because strict providers reject unknown
ones; Anthropic-shaped content blocks in a carried-over conversation become their Chat
Completions equivalents (``tool_use`` → ``tool_calls``, ``tool_result`` → ``tool`` messages).
"""

from __future__ import annotations

import json
from typing import Any

from autoplat.blocks.llm.types import (
    LlmBadResponse,
    LlmRequest,
    LlmResponse,
    Message,
    ToolCall,
    Usage,
)

_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
_FINISH = {"function_call": "tool_calls", "tool_use": "tool_calls", "max_tokens": "length"}


def block_text(content: Any) -> str:
    """The text of a content value: a string, or the text parts of a list of blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(part.get("text", "")) if isinstance(part, dict) else str(part)
            for part in content
            if not isinstance(part, dict) or part.get("type", "text") == "text"
        ]
        return "\n".join(p for p in parts if p)
    return json.dumps(content, default=str)


def _is_anthropic_blocks(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") in ("tool_use", "tool_result") for b in content
    )


def _from_anthropic(role: str, content: list[Any]) -> list[Message]:
    blocks = [b for b in content if isinstance(b, dict)]
    if role == "assistant":
        calls = [
            ToolCall(
                id=str(b.get("id", "")),
                name=str(b.get("name", "")),
                arguments=json.dumps(b.get("input") or {}),
            ).as_message_part()
            for b in blocks
            if b.get("type") == "tool_use"
        ]
        text = block_text([b for b in blocks if b.get("type") == "text"])
        turn: Message = {"role": "assistant", "content": text or None}
        if calls:
            turn["tool_calls"] = calls
        return [turn]
    out: list[Message] = [
        {
            "role": "tool",
            "tool_call_id": str(b.get("tool_use_id", "")),
            "content": block_text(b.get("content")),
        }
        for b in blocks
        if b.get("type") == "tool_result"
    ]
    text = block_text([b for b in blocks if b.get("type") == "text"])
    if text:
        out.append({"role": role, "content": text})
    return out


def openai_messages(messages: list[Message]) -> list[Message]:
    """The conversation in Chat Completions form."""
    out: list[Message] = []
    for message in messages:
        role = str(message.get("role") or "user")
        content = message.get("content")
        if isinstance(content, list) and _is_anthropic_blocks(content):
            out.extend(_from_anthropic(role, content))
            continue
        clean = {k: message[k] for k in _MESSAGE_KEYS if k in message}
        clean["role"] = role
        if role == "tool":
            clean["content"] = block_text(content)
        out.append(clean)
    return out


def openai_payload(
    request: LlmRequest, *, model: str, max_tokens: int | None, token_param: str, o_series: bool
) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions``."""
    payload: dict[str, Any] = {"model": model, "messages": openai_messages(request.messages)}
    if max_tokens:
        payload[token_param] = max_tokens
    if request.json_schema is not None:
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": request.json_schema},
        }
    elif request.json_output:
        payload["response_format"] = {"type": "json_object"}
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.object_schema(),
                },
            }
            for tool in request.tools
        ]
        if request.force_tool:
            payload["tool_choice"] = {"type": "function", "function": {"name": request.force_tool}}
        elif request.tool_choice:
            payload["tool_choice"] = request.tool_choice
        # Reasoning models reject the flag (AutoGPT leaves it out for them as well).
        if request.parallel_tool_calls is not None and not o_series:
            payload["parallel_tool_calls"] = request.parallel_tool_calls
    return payload


def _arguments(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    return json.dumps(raw if raw is not None else {})


def parse_openai(data: Any, *, provider: str, model: str) -> LlmResponse:
    """The completion in a Chat Completions answer, or raise LlmBadResponse."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
        raw_calls = message.get("tool_calls") or []
        calls = [
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(call["function"]["name"]),
                arguments=_arguments(call["function"].get("arguments")),
            )
            for index, call in enumerate(raw_calls)
        ]
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LlmBadResponse(f"the {provider} answer holds no completion") from exc
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    finish = str(choice.get("finish_reason") or ("tool_calls" if calls else "stop"))
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    return LlmResponse(
        text=block_text(message.get("content")),
        tool_calls=calls,
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cache_read_tokens=int(details.get("cached_tokens") or 0)
            if isinstance(details, dict)
            else 0,
        ),
        finish_reason=_FINISH.get(finish, finish),
        model=str(data.get("model") or model),
        provider=provider,
        reasoning=str(reasoning) if reasoning else None,
    )
