"""The web app at ``/``: the bundle in ``autoplat/web/dist`` (built by ``make ui``).

Mounted last, so the API (``/api``, ``/ws``, ``/docs``, ``/openapi.json``, probes) always
wins. ``/assets/*`` are content-hashed files (cached for a year); a ``GET`` of one of the
app's pages (``/library``, ``/build/<id>``, ...) answers ``index.html``, whose router shows
it; every other path is 404. Other methods answer as the API would: 405 naming the methods
when some route has the path, else 404.
"""

from __future__ import annotations

import mimetypes
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

from autoplat.api.errors import allowed_methods

#: The first path segments of the app's own pages (ui/src/App.tsx); anything else is 404.
APP_PAGES = frozenset(
    {
        "",
        "library",
        "build",
        "runs",
        "schedules",
        "keys",
        "credits",
        "admin",
        "auth",
        "credentials",
        "reviews",
    }
)
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".woff2": "font/woff2",
}
# The page loads only its own files and talks only to this server (REST and /ws).
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def dist() -> Traversable:
    """The bundle directory inside the package."""
    return resources.files("autoplat.web").joinpath("dist")


@cache
def _files() -> dict[str, bytes]:
    """Every file of the bundle by its path (read once: the bundle is small)."""
    found: dict[str, bytes] = {}
    stack: list[tuple[str, Traversable]] = [("", dist())]
    while stack:
        prefix, node = stack.pop()
        if not node.is_dir():
            continue
        for child in node.iterdir():
            if child.name.startswith("."):
                continue
            if child.is_dir():
                stack.append((f"{prefix}{child.name}/", child))
            elif child.is_file():
                found[prefix + child.name] = child.read_bytes()
    return found


def _read(name: str) -> bytes | None:
    return _files().get(name)


def _media_type(name: str) -> str:
    for suffix, media in _TYPES.items():
        if name.endswith(suffix):
            return media
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class WebApp:
    """ASGI app serving the bundle, with the index page for the app's own routes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path
        if request.method not in {"GET", "HEAD"}:
            raise HTTPException(405 if allowed_methods(request) else 404)
        name = path.lstrip("/")
        body = _read(name) if name and name != "index.html" else None
        if body is not None:
            immutable = name.startswith("assets/")
            cache_control = "public, max-age=31536000, immutable" if immutable else "max-age=3600"
            response = Response(
                body,
                media_type=_media_type(name),
                headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
            )
        elif name.split("/", 1)[0] not in APP_PAGES:
            raise HTTPException(404)  # a missing file, or a path that is no page of the app
        else:
            page = _read("index.html")
            if page is None:
                response = Response(
                    b"The web app is not built: run `make ui`.\n",
                    status_code=503,
                    media_type="text/plain; charset=utf-8",
                )
            else:
                response = Response(page, media_type=_TYPES[".html"], headers=_PAGE_HEADERS)
        await response(scope, receive, send)


def routes() -> list[BaseRoute]:
    """The web app, mounted at the root after every API route."""
    return [Mount("", app=WebApp(), name="webapp")]
