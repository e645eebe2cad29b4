"""The Starlette application, built by a factory from the platform."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount

from autoplat.api import docs, metrics, webapp, ws
from autoplat.api.errors import EXCEPTION_HANDLERS
from autoplat.api.guards import LocalModeGuard
from autoplat.api.middleware import RequestContextMiddleware
from autoplat.api.routes import (
    admin,
    api_keys,
    auth,
    blocks,
    credits,
    executions,
    files,
    graphs,
    health,
    integrations,
    jobs,
    library,
    notifications,
    presets,
    review,
    schedules,
    sharing,
    triggers,
)

if TYPE_CHECKING:
    from autoplat.platform import Platform


def api_routes() -> list[BaseRoute]:
    """Every route under ``/api``; each domain contributes its own module."""
    modules = (
        auth,
        api_keys,
        blocks,
        graphs,
        library,
        triggers,
        presets,
        executions,
        sharing,
        schedules,
        credits,
        notifications,
        integrations,
        files,
        review,
        admin,
        jobs,
    )
    return [route for module in modules for route in module.routes()]


def create_app(platform: Platform) -> Starlette:
    """Build the ASGI app for ``platform``."""
    settings = platform.settings
    # Local mode: no credentials stand between a browser page and the API (see guards).
    guards = (
        []
        if settings.auth_configured
        else [Middleware(LocalModeGuard, allowed_hosts=settings.allowed_host_names)]
    )
    routes: list[BaseRoute] = [
        *health.routes(),
        *metrics.routes(),
        *docs.routes(),
        *ws.routes(),
        Mount("/api", routes=api_routes()),
        *webapp.routes(),  # last: the web app at "/"
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                RequestContextMiddleware,
                max_body_bytes=settings.max_body_bytes,
                metrics=platform.metrics,
                body_limits={files.UPLOAD_PATH: settings.file_max_bytes + files.UPLOAD_OVERHEAD},
            ),
            *guards,
            Middleware(GZipMiddleware, minimum_size=1024),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.platform = platform
    return app
