"""Test helpers for blocks: a real loopback HTTP server and scripted fake LLM providers.

``FakeLlm`` speaks OpenAI's Chat Completions, ``FakeAnthropic`` Anthropic's Messages API; both
answer from a per-test script (text, tool calls, error statuses with headers such as
``Retry-After``) and keep every request with the headers that carry keys. Used by the block
tests and available to integration tests that run LLM agents without a real provider.
Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

#: A scripted answer: text; a dict (OpenAI: the assistant ``message``; Anthropic: the whole
#: answer body); a list (Anthropic: the content blocks); or ``(status, body[, headers])``.
Reply = str | dict[str, Any] | list[dict[str, Any]] | tuple[Any, ...]
LlmResponder = Callable[[dict[str, Any]], Reply]


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI ``app`` on a free 127.0.0.1 port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("test server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@dataclass
class _ScriptedLlm:
    """The script shared by both fakes: ``responder`` (request → reply) wins over ``replies``,
    which are served in order (then the last one again)."""

    replies: list[Reply] = field(default_factory=list)
    responder: LlmResponder | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def _next(self, body: dict[str, Any]) -> Reply:
        self.requests.append(body)
        if self.responder is not None:
            return self.responder(body)
        if self.replies:
            return self.replies[min(len(self.requests), len(self.replies)) - 1]
        return "ok"

    @staticmethod
    def _error(reply: tuple[Any, ...]) -> JSONResponse:
        headers = reply[2] if len(reply) > 2 else None
        return JSONResponse(reply[1], status_code=reply[0], headers=headers)


@dataclass
class FakeLlm(_ScriptedLlm):
    """An OpenAI-style ``/v1/chat/completions`` endpoint answering from a script.

    A dict reply is the assistant ``message`` (e.g. with ``tool_calls``). Every request body is
    kept in ``requests`` with its ``_authorization`` header and ``_path``.
    """

    usage: dict[str, Any] = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    )

    def app(self) -> Starlette:
        """The ASGI app serving the endpoint under ``/v1``."""
        return Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        body["_authorization"] = request.headers.get("authorization", "")
        body["_path"] = request.url.path
        reply = self._next(body)
        if isinstance(reply, tuple):
            return self._error(reply)
        message = reply if isinstance(reply, dict) else {"role": "assistant", "content": reply}
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "model": body.get("model", ""),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": self.usage,
            }
        )


@dataclass
class FakeAnthropic(_ScriptedLlm):
    """Anthropic's ``/v1/messages`` answering from a script.

    A string reply is one text block, a list the content blocks (``tool_use`` ones make the
    stop reason ``tool_use``), a dict the whole answer body. Requests keep ``_x_api_key``,
    ``_anthropic_version`` and ``_authorization``.
    """

    usage: dict[str, Any] = field(
        default_factory=lambda: {
            "input_tokens": 13,
            "output_tokens": 5,
            "cache_read_input_tokens": 2,
            "cache_creation_input_tokens": 1,
        }
    )

    def app(self) -> Starlette:
        """The ASGI app serving the endpoint under ``/v1``."""
        return Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    async def _messages(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        body["_x_api_key"] = request.headers.get("x-api-key", "")
        body["_anthropic_version"] = request.headers.get("anthropic-version", "")
        body["_authorization"] = request.headers.get("authorization", "")
        reply = self._next(body)
        if isinstance(reply, tuple):
            return self._error(reply)
        if isinstance(reply, dict):
            return JSONResponse(reply)
        blocks = [{"type": "text", "text": reply}] if isinstance(reply, str) else reply
        tool_use = any(b.get("type") == "tool_use" for b in blocks)
        return JSONResponse(
            {
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", ""),
                "content": blocks,
                "stop_reason": "tool_use" if tool_use else "end_turn",
                "stop_sequence": None,
                "usage": self.usage,
            }
        )
