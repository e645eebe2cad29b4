"""Request ids, access logs and the body size limit, as plain ASGI middleware."""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoplat.api.errors import error_body
from autoplat.logging import get_logger

log = get_logger("autoplat.api.access")


class RequestContextMiddleware:
    """Binds a request id, logs each request once, and refuses oversized bodies with 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 0

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_too_large(send, self.max_body_bytes, request_id)
            _log(scope, 413, start)
            structlog.contextvars.unbind_contextvars("request_id")
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge()
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if status == 0:
                await _send_too_large(send, self.max_body_bytes, request_id)
            status = 413
        finally:
            if scope["type"] == "http":
                _log(scope, status, start)
            structlog.contextvars.unbind_contextvars("request_id")


class _BodyTooLarge(Exception):
    pass


async def _send_too_large(send: Send, limit: int, request_id: str) -> None:
    import json

    body = json.dumps(
        error_body("payload_too_large", f"request body is over the limit of {limit} bytes")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _log(scope: Scope, status: int, start: float) -> None:
    log.info(
        "http.request",
        method=scope.get("method"),
        path=scope.get("path"),
        status=status,
        duration_ms=round((time.perf_counter() - start) * 1000, 2),
    )
