"""Local-mode guards: only this machine's own names, and only same-origin browsers.

In local mode (no auth configured) every request acts as the local admin, so what stands
between a web page in the user's browser and the API is the browser's same-origin policy,
and DNS rebinding defeats it: ``evil.example`` answers 127.0.0.1 and the page becomes
"same-origin" with the API under that name. So in local mode, for REST and ``/ws`` alike:

- the ``Host`` header must name this machine: ``localhost``, ``127.0.0.1`` or ``[::1]`` with
  any port, or a name the operator listed in ``AUTOPLAT_ALLOWED_HOSTS`` (403
  ``forbidden_host``);
- a request that carries an ``Origin`` header must be sent to that very origin (scheme, host
  and port), so a page of another site can neither post to nor open a WebSocket on the API
  (403 ``cross_origin_request``).

A request without ``Host`` (HTTP/1.0 tools) or without ``Origin`` (curl, scripts: browsers
send one on every cross-origin write and WebSocket) passes. With auth configured,
credentials do this job and the guards are off.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from autoplat.api.errors import error_body
from autoplat.errors import AutoplatError, PermissionDenied

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_WEB_SCHEME = {"ws": "http", "wss": "https"}
#: Close code of a refused handshake when the server cannot send an HTTP answer.
POLICY_VIOLATION = 1008


class ForbiddenHost(PermissionDenied):
    """Local mode was asked under a name that is not this machine's (DNS rebinding)."""

    code = "forbidden_host"


class CrossOriginRequest(PermissionDenied):
    """Local mode got a browser request from a page of another origin."""

    code = "cross_origin_request"


def _split_host(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (IPv6 in brackets) → (lower-case name, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    return name, int(port) if port.isdigit() else None


def check_local_request(
    scope: Scope, allowed_hosts: Iterable[str] = (), *, loopback: frozenset[str] = LOOPBACK_NAMES
) -> None:
    """Raise ForbiddenHost or CrossOriginRequest unless a local-mode request may pass."""
    headers = {k.lower(): v for k, v in scope.get("headers") or []}
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        return
    name, port = _split_host(host)
    if name not in loopback and name not in {h.lower() for h in allowed_hosts}:
        raise ForbiddenHost(
            f"this local-mode server answers only to localhost, 127.0.0.1 and [::1], not "
            f"{name!r} (list other names in AUTOPLAT_ALLOWED_HOSTS, or configure auth)"
        )
    origin = headers.get(b"origin")
    if origin is None:
        return
    scheme = str(scope.get("scheme", "http"))
    scheme = _WEB_SCHEME.get(scheme, scheme)
    own = (scheme, name, port or _DEFAULT_PORTS.get(scheme))
    try:
        parts = urllib.parse.urlsplit(origin.decode("latin-1").strip())
        theirs = (
            parts.scheme.lower(),
            (parts.hostname or "").lower(),
            parts.port or _DEFAULT_PORTS.get(parts.scheme.lower()),
        )
    except ValueError:  # a bad port, or not a URL at all ("null")
        theirs = ("", "", None)
    if theirs != own:
        raise CrossOriginRequest(
            "cross-origin requests are refused in local mode: this request comes from a "
            "page of another site"
        )


class LocalModeGuard:
    """ASGI middleware applying :func:`check_local_request` to every HTTP request.

    (``/ws`` checks at the start of its endpoint, where it can refuse the handshake.)
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_local_request(scope, self.allowed_hosts)
            except PermissionDenied as exc:
                response = JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def refuse_handshake(ws: WebSocket, exc: AutoplatError) -> None:
    """Refuse a WebSocket handshake: the HTTP status and error body where the server can
    send them (the denial-response extension), else a close before accept (a bare 403)."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        body = error_body(exc.code, exc.message, exc.details)
        await ws.send_denial_response(JSONResponse(body, status_code=exc.status))
    else:
        await ws.close(code=POLICY_VIOLATION, reason=exc.message[:120])
