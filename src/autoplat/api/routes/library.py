"""Routes for the library: the user's agents, and archiving (deactivating) them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import (
    JsonInteger,
    QueryBool,
    StrictBody,
    page_of,
    paginated,
    parse_body,
    parse_query,
)
from autoplat.db.library import LibraryEntry
from autoplat.errors import GraphNotFound, LibraryAgentNotFound
from autoplat.library.graph_settings import GraphSettings

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
    is_favorite: bool = False
    use_graph_is_active_version: bool = Field(
        default=True, description="True: follows the graph's active version; False: pinned."
    )
    created_at: datetime
    updated_at: datetime
    settings: GraphSettings = Field(
        default_factory=GraphSettings, description="The graph's review safe modes."
    )

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, value: object) -> object:
        if value is None or isinstance(value, dict):
            return GraphSettings.from_document(value)
        return value


class LibraryQuery(BaseModel):
    """Filters of ``GET /library/agents``."""

    model_config = ConfigDict(extra="ignore")

    include_archived: QueryBool = False


class UpdateLibraryAgent(StrictBody):
    """Body of ``PATCH /library/agents/{id}``: only the fields given change."""

    is_archived: bool | None = None
    is_favorite: bool | None = None
    graph_version: Annotated[int, Field(ge=1), JsonInteger] | None = Field(
        default=None, description="Pin this version of the graph (stops following)."
    )
    use_graph_is_active_version: bool | None = Field(
        default=None, description="true: follow the graph's active version again."
    )


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
    summary="Archive, favourite, pin or unpin a library agent",
    tags=_TAGS,
    permission="WRITE_GRAPH",
    body=UpdateLibraryAgent,
    response=LibraryAgentOut,
    errors=[404],
)
async def update_library_agent(request: Request) -> LibraryAgentOut:
    """Archiving deactivates the agent (its schedules are deleted; restoring keeps it idle);
    ``graph_version`` pins a version, ``use_graph_is_active_version`` follows the active one."""
    principal = await current_principal(request)
    body = await parse_body(request, UpdateLibraryAgent)
    entry = await _entry(request, principal.user_id)
    library = get_platform(request).db.library
    if body.graph_version is not None or body.use_graph_is_active_version:
        pinned = body.graph_version if not body.use_graph_is_active_version else None
        if not await library.set_version(principal.user_id, entry.id, pinned):
            raise GraphNotFound(f"graph {entry.graph_id} has no version {body.graph_version}")
    if body.is_favorite is not None:
        await library.set_favorite(principal.user_id, entry.id, body.is_favorite)
    if body.is_archived is not None:
        await library.set_archived(principal.user_id, entry.id, body.is_archived)
    return _out(await _entry(request, principal.user_id))


class GraphSettingsChange(StrictBody):
    """Body of ``PATCH /graphs/{graph_id}/settings``: the modes to change (omitted: kept)."""

    human_in_the_loop_safe_mode: bool | None = Field(
        default=None, description="HumanInTheLoopBlock nodes wait for a person."
    )
    sensitive_action_safe_mode: bool | None = Field(
        default=None,
        description="Blocks flagged as sensitive actions wait for a person's approval.",
    )


@endpoint(
    "PATCH",
    "/graphs/{graph_id}/settings",
    summary="Update graph settings",
    tags=["graphs"],
    permission="WRITE_GRAPH",
    body=GraphSettingsChange,
    response=GraphSettings,
    errors=[404],
)
async def update_graph_settings(request: Request) -> GraphSettings:
    """Change the review safe modes of a graph in the caller's library (AutoGPT keeps them
    on the library agent; a graph the caller does not keep is not found)."""
    principal = await current_principal(request)
    body = await parse_body(request, GraphSettingsChange)
    graph_id = str(request.path_params["graph_id"])
    library = get_platform(request).db.library
    document = await library.graph_settings(principal.user_id, graph_id)
    if document is None:
        raise GraphNotFound(f"graph {graph_id} not found in your library")
    settings = GraphSettings.from_document(document).changed(body.model_dump())
    if not await library.set_graph_settings(principal.user_id, graph_id, settings.model_dump()):
        raise GraphNotFound(f"graph {graph_id} not found in your library")
    return settings


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [list_library_agents, get_library_agent, update_library_agent, update_graph_settings]
