"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from autoplat import __version__
from autoplat.api.context import get_platform


async def health(request: Request) -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok", "version": __version__})


async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers (503 with the reason otherwise)."""
    await get_platform(request).db.health_check()
    return JSONResponse({"status": "ready"})


def routes() -> list[BaseRoute]:
    """The probe routes, mounted at the root."""
    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
    ]
