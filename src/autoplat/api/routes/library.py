"""Routes for the library: the user's agents, and archiving (deactivating) them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import StrictBody, page_of, paginated, parse_body, parse_query
from autoplat.db.library import LibraryEntry
from autoplat.errors import LibraryAgentNotFound

_TAGS = ["library"]


class LibraryAgentOut(BaseModel):
    """A library agent: a graph the user keeps, and whether it is archived."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    graph_id: str
    graph_version: int
    name: str
    description: str
    is_archived: bool
    created_at: datetime
    updated_at: datetime


class LibraryQuery(BaseModel):
    """Filters of ``GET /library/agents``."""

    model_config = ConfigDict(extra="ignore")

    include_archived: bool = False


class UpdateLibraryAgent(StrictBody):
    """Body of ``PATCH /library/agents/{id}``."""

    is_archived: bool


def _out(entry: LibraryEntry) -> LibraryAgentOut:
    return LibraryAgentOut.model_validate(entry)


@endpoint(
    "GET",
    "/library/agents",
    summary="List the agents in your library",
    tags=_TAGS,
    permission="READ_GRAPH",
    query=LibraryQuery,
    paginated=True,
    response=LibraryAgentOut,
)
async def list_library_agents(request: Request) -> dict[str, Any]:
    """The caller's library, newest first; archived agents only with include_archived."""
    principal = await current_principal(request)
    query = parse_query(request, LibraryQuery)
    page = page_of(request)
    entries, total = await get_platform(request).db.library.list(
        principal.user_id,
        include_archived=query.include_archived,
        offset=page.offset,
        limit=page.page_size,
    )
    return paginated([_out(e) for e in entries], total, page)


async def _entry(request: Request, user_id: str) -> LibraryEntry:
    entry_id = str(request.path_params["library_agent_id"])
    entry = await get_platform(request).db.library.get(user_id, entry_id)
    if entry is None:
        raise LibraryAgentNotFound(f"library agent {entry_id} does not exist")
    return entry


@endpoint(
    "GET",
    "/library/agents/{library_agent_id}",
    summary="Get a library agent",
    tags=_TAGS,
    permission="READ_GRAPH",
    response=LibraryAgentOut,
    errors=[404],
)
async def get_library_agent(request: Request) -> LibraryAgentOut:
    """One of the caller's library agents."""
    principal = await current_principal(request)
    return _out(await _entry(request, principal.user_id))


@endpoint(
    "PATCH",
    "/library/agents/{library_agent_id}",
    summary="Archive or restore a library agent",
    tags=_TAGS,
    permission="WRITE_GRAPH",
    body=UpdateLibraryAgent,
    response=LibraryAgentOut,
    errors=[404],
)
async def update_library_agent(request: Request) -> LibraryAgentOut:
    """Archiving deactivates the agent: its schedules are deleted; restoring keeps it idle."""
    principal = await current_principal(request)
    body = await parse_body(request, UpdateLibraryAgent)
    entry = await _entry(request, principal.user_id)
    platform = get_platform(request)
    await platform.db.library.set_archived(principal.user_id, entry.id, body.is_archived)
    return _out(await _entry(request, principal.user_id))


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [list_library_agents, get_library_agent, update_library_agent]
