"""Routes for graphs and their versions (each user sees only their own graphs).

``POST /graphs`` and ``PUT /graphs/{id}`` take any AutoGPT graph document: a create-graph
body ``{"graph": {...}, "source": ...}`` or a bare exported graph. ``?for_export=true`` on
the GET routes answers with the AutoGPT export format (sub-graphs included, secrets and user
ids stripped), which both routes accept back.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.routes.graph_models import (
    ActiveVersionOut,
    DeletedGraphOut,
    GraphDocument,
    GraphMetaOut,
    GraphOut,
)
from autoplat.api.validation import (
    PathModel,
    QueryBool,
    StrictBody,
    StrictJsonInt,
    page_of,
    paginated,
    parse_body,
    parse_path,
    parse_query,
    read_json,
)
from autoplat.graphs.service import MAX_VERSION, GraphService

_TAGS = ["graphs"]
_GRAPH_CHECKS = (
    "the document is not a graph the importer accepts (a name and nodes, known blocks, "
    "links between existing nodes and pins); the details name each node and pin"
)


class GraphQuery(BaseModel):
    """Query parameters of the single-graph GET routes."""

    model_config = ConfigDict(extra="ignore")

    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="a version (default: active)"
    )
    for_export: QueryBool = Field(default=False, description="answer in the AutoGPT export format")


class ExportQuery(BaseModel):
    """Query parameters of ``GET /graphs/{id}/versions/{v}``."""

    model_config = ConfigDict(extra="ignore")

    for_export: QueryBool = Field(default=False, description="answer in the AutoGPT export format")


class VersionPath(PathModel):
    """Path parameters of ``GET /graphs/{id}/versions/{version}``."""

    version: int = Field(ge=1, le=MAX_VERSION, description="the version to read")


class SetActiveVersion(StrictBody):
    """Body of ``PUT /graphs/{id}/versions/active``."""

    active_graph_version: StrictJsonInt = Field(ge=1, le=MAX_VERSION)


def graph_service(request: Request) -> GraphService:
    """The graph use cases for this request's platform."""
    platform = get_platform(request)
    return GraphService(platform.db.graphs, platform.blocks)


def _graph_id(request: Request) -> str:
    return str(request.path_params["graph_id"])


@endpoint(
    "GET",
    "/graphs",
    summary="List your graphs (active versions)",
    tags=_TAGS,
    permission="READ_GRAPH",
    paginated=True,
    response=GraphMetaOut,
)
async def list_graphs(request: Request) -> dict[str, Any]:
    """The caller's graphs, newest first: fields and I/O schemas, without nodes and links."""
    principal = await current_principal(request)
    page = page_of(request)
    service = graph_service(request)
    graphs, total = await service.store.list_graphs(
        user_id=principal.user_id, offset=page.offset, limit=page.page_size
    )
    return paginated([service.meta(g) for g in graphs], total, page)


@endpoint(
    "POST",
    "/graphs",
    summary="Create or import a graph",
    tags=_TAGS,
    permission="WRITE_GRAPH",
    errors=[409],
    body=GraphDocument,
    response=GraphOut,
    validates=_GRAPH_CHECKS,
)
async def create_graph(request: Request) -> dict[str, Any]:
    """Create a graph from ``{"graph": ..., "source": ...}`` or a bare AutoGPT export.

    Ids are reassigned and links remapped; embedded sub-graphs become graphs of their own.
    422 lists every problem per node and pin; ``missing_blocks`` names each unknown block.
    """
    principal = await current_principal(request)
    service = graph_service(request)
    graph = await service.create(principal.user_id, await read_json(request))
    return service.view(graph)


@endpoint(
    "GET",
    "/graphs/{graph_id}",
    summary="Get a graph (active version, or ?version=)",
    tags=_TAGS,
    permission="READ_GRAPH",
    query=GraphQuery,
    response=GraphOut,
)
async def get_graph(request: Request) -> dict[str, Any]:
    """One graph version; ``for_export=true`` gives the AutoGPT export format."""
    principal = await current_principal(request)
    query = parse_query(request, GraphQuery)
    service = graph_service(request)
    if query.for_export:
        return await service.export(principal.user_id, _graph_id(request), query.version)
    return service.view(await service.get(principal.user_id, _graph_id(request), query.version))


@endpoint(
    "PUT",
    "/graphs/{graph_id}",
    summary="Save a new version of a graph and activate it",
    tags=_TAGS,
    permission="WRITE_GRAPH",
    errors=[409],
    body=GraphDocument,
    response=GraphOut,
    validates=_GRAPH_CHECKS,
)
async def update_graph(request: Request) -> dict[str, Any]:
    """Store the body (same shapes as create) as the next version, made active."""
    principal = await current_principal(request)
    service = graph_service(request)
    data = await read_json(request)
    graph = await service.update(principal.user_id, _graph_id(request), data)
    return service.view(graph)


@endpoint(
    "DELETE",
    "/graphs/{graph_id}",
    summary="Delete a graph and all its versions",
    tags=_TAGS,
    permission="WRITE_GRAPH",
    response=DeletedGraphOut,
)
async def delete_graph(request: Request) -> dict[str, Any]:
    """Remove every version; answers how many versions were deleted."""
    principal = await current_principal(request)
    removed = await graph_service(request).delete(principal.user_id, _graph_id(request))
    return {"version_counts": removed}


@endpoint(
    "GET",
    "/graphs/{graph_id}/versions",
    summary="List the versions of a graph",
    tags=_TAGS,
    permission="READ_GRAPH",
    paginated=True,
    response=GraphOut,
)
async def list_versions(request: Request) -> dict[str, Any]:
    """Every version of the graph, newest first."""
    principal = await current_principal(request)
    page = page_of(request)
    service = graph_service(request)
    graph_id, user_id = _graph_id(request), principal.user_id
    total = await service.store.count_versions(graph_id, user_id=user_id)
    if total == 0:
        await service.get(user_id, graph_id)  # raises graph_not_found
    versions = await service.store.list_versions(
        graph_id, user_id=user_id, offset=page.offset, limit=page.page_size
    )
    return paginated([service.view(g) for g in versions], total, page)


@endpoint(
    "GET",
    "/graphs/{graph_id}/versions/{version}",
    summary="Get one version of a graph",
    tags=_TAGS,
    permission="READ_GRAPH",
    path_params=VersionPath,
    query=ExportQuery,
    response=GraphOut,
)
async def get_version(request: Request) -> dict[str, Any]:
    """One version; ``for_export=true`` gives the AutoGPT export format."""
    principal = await current_principal(request)
    query = parse_query(request, ExportQuery)
    version = parse_path(request, VersionPath).version
    service = graph_service(request)
    if query.for_export:
        return await service.export(principal.user_id, _graph_id(request), version)
    return service.view(await service.get(principal.user_id, _graph_id(request), version))


@endpoint(
    "PUT",
    "/graphs/{graph_id}/versions/active",
    summary="Choose the active version of a graph",
    tags=_TAGS,
    permission="WRITE_GRAPH",
    body=SetActiveVersion,
    response=ActiveVersionOut,
)
async def set_active_version(request: Request) -> dict[str, Any]:
    """Make ``active_graph_version`` the version that runs by default."""
    principal = await current_principal(request)
    body = await parse_body(request, SetActiveVersion)
    service = graph_service(request)
    await service.set_active(principal.user_id, _graph_id(request), body.active_graph_version)
    return {"id": _graph_id(request), "active_graph_version": body.active_graph_version}


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [
        list_graphs,
        create_graph,
        get_graph,
        update_graph,
        delete_graph,
        list_versions,
        set_active_version,
        get_version,
    ]
