"""Liveness and readiness probes."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat import __version__
from autoplat.api.context import get_platform
from autoplat.api.endpoint import endpoint
from autoplat.errors import NotReady

_TAGS = ["operations"]


class Health(BaseModel):
    """The process answers."""

    status: str
    version: str


class Readiness(BaseModel):
    """The database answers and every critical loop runs."""

    status: str


@endpoint("GET", "/health", response=Health, auth=False, summary="Liveness", tags=_TAGS)
async def health(request: Request) -> Health:
    """Liveness: the process answers."""
    return Health(status="ok", version=__version__)


@endpoint(
    "GET",
    "/ready",
    response=Readiness,
    auth=False,
    errors=[503],
    summary="Readiness",
    tags=_TAGS,
)
async def ready(request: Request) -> Readiness:
    """Readiness: the database answers and no critical loop is failing (503 otherwise)."""
    platform = get_platform(request)
    await platform.db.health_check()
    problems = platform.problems()
    if problems:
        raise NotReady("not ready: " + "; ".join(problems))
    return Readiness(status="ready")


def routes() -> list[BaseRoute]:
    """The probe routes, mounted at the root."""
    return [health, ready]
