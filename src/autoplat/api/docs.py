"""``/openapi.json`` and the ``/docs`` reference page, served from files in the package."""

from __future__ import annotations

from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from autoplat.api.errors import error_body
from autoplat.api.openapi import build_openapi

_ASSETS = {
    "docs.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}


def openapi_document(request: Request) -> dict[str, Any]:
    """The app's OpenAPI document, built on first use and kept on the app."""
    state = request.app.state
    document: dict[str, Any] | None = getattr(state, "openapi", None)
    if document is None:
        document = build_openapi(list(request.app.routes))
        state.openapi = document
    return document


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of this server."""
    return JSONResponse(openapi_document(request))


async def docs_page(request: Request) -> Response:
    """The API reference page (renders /openapi.json in the browser, no CDN)."""
    return Response(_asset("docs.html"), media_type="text/html; charset=utf-8")


async def docs_asset(request: Request) -> Response:
    """A stylesheet or script of the reference page."""
    name = request.path_params["name"]
    if name not in _ASSETS:
        return JSONResponse(error_body("not_found", f"no asset {name!r}"), status_code=404)
    return Response(
        _asset(name), media_type=_ASSETS[name], headers={"Cache-Control": "max-age=3600"}
    )


def _asset(name: str) -> bytes:
    return resources.files("autoplat.api").joinpath("static", name).read_bytes()


def routes() -> list[BaseRoute]:
    """The spec and docs routes, mounted at the root (not themselves in the spec)."""
    return [
        Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
        Route("/docs", docs_page, methods=["GET"], include_in_schema=False),
        Route("/docs/static/{name}", docs_asset, methods=["GET"], include_in_schema=False),
    ]
