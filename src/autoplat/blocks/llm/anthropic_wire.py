"""Anthropic's native Messages API: ``POST {base}/messages``.

Invariants: the system prompt travels apart from the turns (system and developer messages
are joined into it); turns alternate user/assistant, so consecutive same-role messages are
merged into one turn of content blocks and, in a user turn, tool results come first as
Anthropic requires; an assistant's ``tool_calls`` become ``tool_use`` blocks and ``tool``
messages ``tool_result`` blocks. A JSON-only answer without tools is obtained by forcing one
tool whose input is the answer (Anthropic has no JSON mode), and comes back as text.
"""

from __future__ import annotations

import json
from typing import Any, Final

from autoplat.blocks.llm.openai_wire import block_text
from autoplat.blocks.llm.types import (
    LlmBadResponse,
    LlmRequest,
    LlmResponse,
    Message,
    ToolCall,
    Usage,
)

API_VERSION: Final = "2023-06-01"
#: The forced tool that carries a JSON-only answer.
STRUCTURED_TOOL: Final = "structured_output"
_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if not isinstance(content, list):
        return [{"type": "text", "text": json.dumps(content, default=str)}]
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            blocks.extend(_content_blocks(part))
        elif not isinstance(part, dict):
            continue
        elif part.get("type", "text") == "text":
            blocks.extend(_content_blocks(str(part.get("text", ""))))
        elif part.get("type") == "image_url":
            url = part.get("image_url", {})
            url = url.get("url", "") if isinstance(url, dict) else str(url)
            blocks.append({"type": "image", "source": {"type": "url", "url": url}})
        else:
            blocks.append(dict(part))  # already an Anthropic block (tool_use, image, ...)
    return blocks


def _tool_input(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def _turn(message: Message) -> tuple[str, list[dict[str, Any]]]:
    role = str(message.get("role") or "user")
    content = message.get("content")
    if role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": str(message.get("tool_call_id", "")),
            "content": block_text(content),
        }
        if message.get("is_error"):
            result["is_error"] = True
        return "user", [result]
    blocks = _content_blocks(content)
    if role == "assistant":
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": str(call.get("id", "")),
                    "name": str(function.get("name", "")),
                    "input": _tool_input(function.get("arguments")),
                }
            )
        return "assistant", blocks
    return "user", blocks


def anthropic_conversation(messages: list[Message]) -> tuple[str, list[Message]]:
    """``(system prompt, turns)`` of a neutral conversation."""
    system: list[str] = []
    turns: list[Message] = []
    for message in messages:
        if message.get("role") in ("system", "developer"):
            text = block_text(message.get("content"))
            if text.strip():
                system.append(text)
            continue
        role, blocks = _turn(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            turn["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return "\n\n".join(system), turns


def _tool_choice(request: LlmRequest) -> dict[str, Any] | None:
    choice: dict[str, Any] | None = None
    if request.force_tool:
        choice = {"type": "tool", "name": request.force_tool}
    elif request.tool_choice == "required":
        choice = {"type": "any"}
    elif request.tool_choice in ("auto", "none"):
        choice = {"type": request.tool_choice}
    if request.parallel_tool_calls is False:
        choice = choice or {"type": "auto"}
        choice["disable_parallel_tool_use"] = True
    return choice


def anthropic_payload(request: LlmRequest, *, model: str, max_tokens: int) -> dict[str, Any]:
    """The JSON body of ``POST /messages`` (``max_tokens`` is required by the API)."""
    system, turns = anthropic_conversation(request.messages)
    payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
    wants_json = request.json_output or request.json_schema is not None
    if request.tools:
        payload["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.object_schema()}
            for t in request.tools
        ]
        choice = _tool_choice(request)
        if choice is not None:
            payload["tool_choice"] = choice
        if wants_json:  # the forced-tool trick would hide the real tools: ask in words
            system = f"{system}\n\nAnswer with a JSON object only.".strip()
    elif wants_json:
        schema = request.json_schema or {"type": "object"}
        payload["tools"] = [
            {
                "name": STRUCTURED_TOOL,
                "description": "Give your complete answer as this tool's input.",
                "input_schema": schema,
            }
        ]
        payload["tool_choice"] = {"type": "tool", "name": STRUCTURED_TOOL}
    if system:
        payload["system"] = system
    return payload


def parse_anthropic(data: Any, *, model: str, structured: bool) -> LlmResponse:
    """The answer of a Messages call, or raise LlmBadResponse."""
    try:
        blocks = [b for b in data["content"] if isinstance(b, dict)]
    except (KeyError, TypeError) as exc:
        raise LlmBadResponse("the anthropic answer holds no content") from exc
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use" and structured and block.get("name") == STRUCTURED_TOOL:
            texts.append(json.dumps(block.get("input") or {}))
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    id=str(block.get("id", "")),
                    name=str(block.get("name", "")),
                    arguments=json.dumps(block.get("input") or {}),
                )
            )
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking", "")))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    stop = str(data.get("stop_reason") or "end_turn")
    finish = "stop" if structured and not calls and stop == "tool_use" else _STOP.get(stop, stop)
    return LlmResponse(
        text="".join(texts),
        tool_calls=calls,
        usage=Usage(
            prompt_tokens=int(usage.get("input_tokens") or 0),
            completion_tokens=int(usage.get("output_tokens") or 0),
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_creation_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        ),
        finish_reason=finish,
        model=str(data.get("model") or model),
        provider="anthropic",
        reasoning="\n".join(reasoning) or None,
    )
