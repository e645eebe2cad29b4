"""Request ids, access logs, request metrics and input limits, as plain ASGI middleware."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

import structlog
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoplat.api.errors import error_body
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.api.metrics import Metrics

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

log = get_logger("autoplat.api.access")


class RequestContextMiddleware:
    """Binds a request id, logs and counts each request once, and refuses bad input early.

    Refused before routing: bodies over ``max_body_bytes`` (413) and NUL characters in the
    path or query string (400), which no route accepts and PostgreSQL cannot store.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        metrics: Metrics | None = None,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        # Exact paths with their own limit (file uploads): bigger bodies, for those only.
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 0

        limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            message = f"request body is over the limit of {limit} bytes"
            await _send_error(send, 413, "payload_too_large", message, request_id)
            self._done(scope, 413, start)
            return
        if scope["type"] == "http" and _has_nul(scope):
            message = "the path or query string contains a NUL character (%00)"
            await _send_error(send, 400, "bad_request", message, request_id)
            self._done(scope, 400, start)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
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
                message = f"request body is over the limit of {limit} bytes"
                await _send_error(send, 413, "payload_too_large", message, request_id)
            status = 413
        except BaseException:
            # ServerErrorMiddleware (outside us) answers 500; count it as such.
            status = status or 500
            raise
        finally:
            self._done(scope, status, start)

    def _done(self, scope: Scope, status: int, start: float) -> None:
        if scope["type"] == "http":
            seconds = time.perf_counter() - start
            route = route_template(scope)
            log.info(
                "http.request",
                method=scope.get("method"),
                path=scope.get("path"),
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
            )
            if self.metrics is not None:
                self.metrics.observe_request(str(scope.get("method")), route, status, seconds)
        structlog.contextvars.unbind_contextvars("request_id")


class _BodyTooLarge(Exception):
    pass


def route_template(scope: Scope) -> str:
    """The matched route template (``/api/graphs/{graph_id}``): a low-cardinality label."""
    route = scope.get("route")
    # A Mount alone (``/api`` matched, nothing under it) is no route at all.
    if not isinstance(route, Route | WebSocketRoute):
        return "unmatched"
    path = route.path
    prefix = str(scope.get("root_path", ""))
    app_root = str(scope.get("app_root_path", ""))
    if app_root and prefix.startswith(app_root):
        prefix = prefix[len(app_root) :]
    return prefix + path


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in str(scope.get("path", "")) or b"%00" in query or b"\x00" in query


async def _send_error(send: Send, status: int, code: str, message: str, request_id: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
