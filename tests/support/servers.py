"""Test helpers for blocks: a real loopback HTTP server and an OpenAI-compatible fake LLM.

Used by the block tests and available to integration tests that run LLM agents without a
real provider. Nothing here runs at import time.
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

LlmResponder = Callable[[dict[str, Any]], str]


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
class FakeLlm:
    """An OpenAI-style ``/v1/chat/completions`` endpoint answering from a script.

    ``replies`` are served in order (then the last one again); each is either text or a
    ``(status, body)`` pair for error answers. ``responder`` (request → text) wins if set.
    Every request body is kept in ``requests`` along with its Authorization header.
    """

    replies: list[str | tuple[int, dict[str, Any]]] = field(default_factory=list)
    responder: LlmResponder | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        """The ASGI app serving the endpoint under ``/v1``."""
        return Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        body["_authorization"] = request.headers.get("authorization", "")
        self.requests.append(body)
        if self.responder is not None:
            reply: str | tuple[int, dict[str, Any]] = self.responder(body)
        elif self.replies:
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        else:
            reply = "ok"
        if isinstance(reply, tuple):
            return JSONResponse(reply[1], status_code=reply[0])
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
        )
