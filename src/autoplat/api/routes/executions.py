"""Routes for graph executions: run a graph, list and read runs, stop and delete them."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, ensure_graph_visible, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.routes.execution_schemas import RunDetail, RunOut, RunQueued
from autoplat.api.validation import PathModel, StrictBody, page_of, paginated, parse_body
from autoplat.errors import Conflict, ExecutionNotFound, ValidationFailed
from autoplat.executions.status import is_terminal
from autoplat.executions.views import node_view, run_view
from autoplat.graphs.service import MAX_VERSION

_TAGS = ["executions"]
#: How long the stop route waits for the run to reach TERMINATED before answering.
STOP_WAIT_SECONDS = 2.0


class ExecuteBody(StrictBody):
    """Body of ``POST /graphs/{id}/execute/{version}`` (AutoGPT's shape)."""

    inputs: dict[str, Any] = Field(default_factory=dict, description="Run inputs by name.")
    credentials_inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Credential references (id, provider, type, title) by the graph's "
        "credentials input names; each must be yours or a platform credential.",
    )


class ExecutePath(PathModel):
    """Path parameters of ``POST /graphs/{id}/execute/{version}``."""

    graph_version: int = Field(ge=1, le=MAX_VERSION, description="the version to run")


def _version(request: Request) -> int:
    raw = str(request.path_params["graph_version"])
    try:
        version = int(raw)
    except ValueError:
        version = 0
    if version < 1:
        message = f"graph_version must be a positive integer, not {raw!r}"
        detail = {"field": "path.graph_version", "message": message}
        raise ValidationFailed(message, details=[detail])
    return version


@endpoint(
    "POST",
    "/graphs/{graph_id}/execute/{graph_version}",
    summary="Run a graph version",
    tags=_TAGS,
    body=ExecuteBody,
    path_params=ExecutePath,
    response=RunQueued,
    validates="the inputs or credentials do not fit the graph version's input schema",
    permission="EXECUTE_GRAPH",
    rate_limited=True,
    errors=[402],
)
async def execute_graph(request: Request) -> dict[str, Any]:
    """Queue a run with ``inputs``; 422 lists per-node problems of an invalid run."""
    principal = await current_principal(request)
    body = await parse_body(request, ExecuteBody)
    run_id = await get_platform(request).executions.submit(
        user_id=principal.user_id,
        graph_id=str(request.path_params["graph_id"]),
        graph_version=_version(request),
        inputs=body.inputs,
        credentials_inputs=body.credentials_inputs,
    )
    return {"id": run_id, "graph_exec_id": run_id, "status": "QUEUED"}


@endpoint(
    "GET",
    "/executions",
    summary="List your graph executions",
    tags=_TAGS,
    permission="READ_GRAPH",
    response=RunOut,
    paginated=True,
)
async def list_executions(request: Request) -> dict[str, Any]:
    """The caller's runs, newest first (without node executions)."""
    principal = await current_principal(request)
    page = page_of(request)
    rows, total = await get_platform(request).db.executions.list_runs(
        user_id=principal.user_id, offset=page.offset, limit=page.page_size
    )
    return paginated([run_view(r) for r in rows], total, page)


@endpoint(
    "GET",
    "/graphs/{graph_id}/executions",
    summary="List the executions of one graph",
    tags=_TAGS,
    permission="READ_GRAPH",
    response=RunOut,
    paginated=True,
)
async def list_graph_executions(request: Request) -> dict[str, Any]:
    """The caller's runs of this graph, newest first."""
    principal = await current_principal(request)
    page = page_of(request)
    graph_id = str(request.path_params["graph_id"])
    rows, total = await get_platform(request).db.executions.list_runs(
        user_id=principal.user_id,
        graph_id=graph_id,
        offset=page.offset,
        limit=page.page_size,
    )
    if total == 0:
        await ensure_graph_visible(request, principal.user_id, graph_id)
    return paginated([run_view(r) for r in rows], total, page)


async def _owned_run(request: Request, user_id: str) -> Any:
    exec_id = str(request.path_params["exec_id"])
    row = await get_platform(request).db.executions.get_run(exec_id, user_id=user_id)
    graph_id = request.path_params.get("graph_id")
    if row is None or (graph_id is not None and row.graph_id != graph_id):
        raise ExecutionNotFound(f"execution {exec_id} not found")
    return row


@endpoint(
    "GET",
    "/graphs/{graph_id}/executions/{exec_id}",
    summary="Get one execution with its node executions and outputs",
    tags=_TAGS,
    permission="READ_GRAPH",
    response=RunDetail,
)
async def get_execution(request: Request) -> dict[str, Any]:
    """The run, its outputs and every node execution (input, outputs, timings, stats)."""
    principal = await current_principal(request)
    row = await _owned_run(request, principal.user_id)
    nodes = await get_platform(request).db.executions.get_nodes(row.id)
    return {**run_view(row), "node_executions": [node_view(row, n) for n in nodes]}


@endpoint(
    "POST",
    "/graphs/{graph_id}/executions/{exec_id}/stop",
    summary="Stop a running execution",
    tags=_TAGS,
    permission="EXECUTE_GRAPH",
    response=RunOut,
)
async def stop_execution(request: Request) -> dict[str, Any]:
    """End the run as TERMINATED (wherever it runs); answers once it has stopped."""
    principal = await current_principal(request)
    platform = get_platform(request)
    row = await _owned_run(request, principal.user_id)
    if not is_terminal(row.status):
        with platform.executions.bus.subscribe(graph_exec_id=row.id) as sub:
            await platform.executions.stop_execution(row.id, user_id=principal.user_id)
            await _wait_terminal(request, sub, row.id, STOP_WAIT_SECONDS)
        row = await _owned_run(request, principal.user_id)
    return run_view(row)


async def _wait_terminal(request: Request, sub: Any, exec_id: str, timeout: float) -> None:
    """Wait for the run's terminal event; poll too, for runs of processes we cannot hear."""
    store = get_platform(request).db.executions
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        try:
            event = await sub.get(timeout=min(left, 0.1))
        except TimeoutError:
            row = await store.get_run(exec_id)
            if row is None or is_terminal(row.status):
                return
            continue
        if event.kind == "graph" and is_terminal(event.status):
            return


@endpoint(
    "DELETE",
    "/executions/{exec_id}",
    summary="Delete a finished execution",
    tags=_TAGS,
    permission="EXECUTE_GRAPH",
    status=204,
    errors=[409],
)
async def delete_execution(request: Request) -> None:
    """Delete the run and its node executions; 409 while it is still queued or running."""
    principal = await current_principal(request)
    row = await _owned_run(request, principal.user_id)
    if not is_terminal(row.status):
        raise Conflict(f"execution {row.id} is {row.status}; stop it before deleting it")
    await get_platform(request).db.executions.delete_run(row.id, user_id=principal.user_id)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [
        execute_graph,
        list_executions,
        list_graph_executions,
        get_execution,
        stop_execution,
        delete_execution,
    ]
