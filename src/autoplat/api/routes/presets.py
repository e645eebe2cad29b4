"""Routes of presets: ``/api/library/presets`` CRUD and running a preset (AutoGPT's paths).

Invariant: a preset always names one of the caller's graph versions (checked when it is
made or moved to another version); running it merges the caller's overrides over its
inputs and credentials and goes through the same submit path as any run (validation,
credits, credentials checks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.routes.execution_schemas import RunQueued
from autoplat.api.validation import (
    NOT_BLANK,
    JsonInteger,
    QueryModel,
    StrictBody,
    StrictJsonInt,
    page_of,
    paginated,
    parse_body,
    parse_query,
    stripped_name,
    timezone_enum,
)
from autoplat.db.presets import Preset
from autoplat.errors import GraphNotFound
from autoplat.graphs.service import MAX_VERSION
from autoplat.library.errors import PresetNotFound
from autoplat.scheduler.service import ScheduleService, ScheduleView

_TAGS = ["presets"]


class PresetOut(BaseModel):
    """A preset: named inputs and credentials for one graph version."""

    id: str
    graph_id: str
    graph_version: int
    name: str
    description: str
    inputs: dict[str, Any]
    credentials: dict[str, Any] = Field(description="Credential references by input name.")
    is_active: bool
    webhook_id: str | None = None
    created_at: datetime
    updated_at: datetime


class CreatePreset(StrictBody):
    """Body of ``POST /library/presets``."""

    graph_id: str = Field(min_length=1, max_length=36)
    graph_version: StrictJsonInt = Field(ge=1, le=MAX_VERSION)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class UpdatePreset(StrictBody):
    """Body of ``PATCH /library/presets/{id}``: only the fields given change."""

    graph_version: Annotated[int, Field(ge=1, le=MAX_VERSION), JsonInteger] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    inputs: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    is_active: bool | None = None


class PresetQuery(QueryModel):
    """Filters of ``GET /library/presets``."""

    graph_id: str | None = Field(default=None, max_length=36)


class ExecutePreset(StrictBody):
    """Body of ``POST /library/presets/{id}/execute``: overrides of the preset's values."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    credential_inputs: dict[str, Any] = Field(default_factory=dict)


class SchedulePreset(StrictBody):
    """Body of ``POST /library/presets/{id}/schedules``: as for graph schedules."""

    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    cron: str = Field(
        max_length=200, pattern=NOT_BLANK, description="As for graph schedules (5 or 6 fields)."
    )
    timezone: str | None = Field(default=None, max_length=64, json_schema_extra=timezone_enum)
    inputs: dict[str, Any] = Field(default_factory=dict, description="Overrides.")

    _strip_name = field_validator("name")(stripped_name)


def preset_out(preset: Preset) -> PresetOut:
    """The API view of a preset."""
    return PresetOut(
        id=preset.id,
        graph_id=preset.graph_id,
        graph_version=preset.graph_version,
        name=preset.name,
        description=preset.description,
        inputs=preset.inputs,
        credentials=preset.credentials,
        is_active=preset.is_active,
        webhook_id=preset.webhook_id,
        created_at=preset.created_at,
        updated_at=preset.updated_at,
    )


async def _check_graph(request: Request, user_id: str, graph_id: str, version: int) -> None:
    if await get_platform(request).db.graphs.get(graph_id, version, user_id=user_id) is None:
        raise GraphNotFound(f"graph {graph_id} version {version} does not exist")


async def _mine(request: Request) -> Preset:
    principal = await current_principal(request)
    preset_id = str(request.path_params["preset_id"])
    preset = await get_platform(request).db.presets.get(principal.user_id, preset_id)
    if preset is None:
        raise PresetNotFound(f"preset {preset_id} does not exist")
    return preset


@endpoint(
    "GET",
    "/library/presets",
    summary="List your presets",
    tags=_TAGS,
    query=PresetQuery,
    response=PresetOut,
    paginated=True,
    permission="READ_GRAPH",
)
async def list_presets(request: Request) -> dict[str, Any]:
    """The caller's presets, most recently changed first (``graph_id`` filters)."""
    principal = await current_principal(request)
    query = parse_query(request, PresetQuery)
    page = page_of(request)
    items, total = await get_platform(request).db.presets.list_for(
        principal.user_id, graph_id=query.graph_id, offset=page.offset, limit=page.page_size
    )
    return paginated([preset_out(p) for p in items], total, page)


@endpoint(
    "POST",
    "/library/presets",
    summary="Create a preset",
    tags=_TAGS,
    body=CreatePreset,
    response=PresetOut,
    permission="WRITE_GRAPH",
    errors=[404],
)
async def create_preset(request: Request) -> PresetOut:
    """Store named inputs and credentials for one of your graph versions."""
    principal = await current_principal(request)
    body = await parse_body(request, CreatePreset)
    await _check_graph(request, principal.user_id, body.graph_id, body.graph_version)
    preset = await get_platform(request).db.presets.create(principal.user_id, **body.model_dump())
    return preset_out(preset)


@endpoint(
    "GET",
    "/library/presets/{preset_id}",
    summary="Get a preset",
    tags=_TAGS,
    response=PresetOut,
    permission="READ_GRAPH",
)
async def get_preset(request: Request) -> PresetOut:
    """One of the caller's presets."""
    return preset_out(await _mine(request))


@endpoint(
    "PATCH",
    "/library/presets/{preset_id}",
    summary="Change a preset",
    tags=_TAGS,
    body=UpdatePreset,
    response=PresetOut,
    permission="WRITE_GRAPH",
)
async def update_preset(request: Request) -> PresetOut:
    """Change the given fields of a preset (a new version must be one of the graph's)."""
    preset = await _mine(request)
    body = await parse_body(request, UpdatePreset)
    changes = body.model_dump(exclude_none=True)
    if "graph_version" in changes:
        await _check_graph(request, preset.user_id, preset.graph_id, changes["graph_version"])
    updated = await get_platform(request).db.presets.update(preset.user_id, preset.id, changes)
    if updated is None:
        raise PresetNotFound(f"preset {preset.id} does not exist")
    return preset_out(updated)


@endpoint(
    "DELETE",
    "/library/presets/{preset_id}",
    summary="Delete a preset",
    tags=_TAGS,
    status=204,
    permission="WRITE_GRAPH",
)
async def delete_preset(request: Request) -> None:
    """Delete a preset (a trigger preset's webhook is deleted with it; schedules reading
    it are paused, keeping its last inputs)."""
    preset = await _mine(request)
    db = get_platform(request).db
    await db.presets.delete(preset.user_id, preset.id)
    if preset.webhook_id is not None:
        await db.webhooks.delete(preset.user_id, preset.webhook_id)


@endpoint(
    "POST",
    "/library/presets/{preset_id}/execute",
    summary="Run a preset",
    tags=_TAGS,
    body=ExecutePreset,
    response=RunQueued,
    validates="the merged inputs or credentials do not fit the preset's graph version's "
    "input schema",
    permission="EXECUTE_GRAPH",
    rate_limited=True,
    errors=[402],
)
async def execute_preset(request: Request) -> dict[str, Any]:
    """Run the preset's graph version with its inputs, overridden by the body's."""
    preset = await _mine(request)
    body = await parse_body(request, ExecutePreset)
    run_id = await get_platform(request).executions.submit(
        user_id=preset.user_id,
        graph_id=preset.graph_id,
        graph_version=preset.graph_version,
        inputs={**preset.inputs, **body.inputs},
        credentials_inputs={**preset.credentials, **body.credential_inputs},
    )
    return {"id": run_id, "graph_exec_id": run_id, "status": "QUEUED"}


@endpoint(
    "POST",
    "/library/presets/{preset_id}/schedules",
    summary="Schedule a preset",
    tags=_TAGS,
    body=SchedulePreset,
    response=ScheduleView,
    permission="WRITE_SCHEDULE",
    validates="the cron expression does not parse or never fires, or the inputs do not fit "
    "the preset's graph version's input schema",
)
async def schedule_preset(request: Request) -> ScheduleView:
    """A schedule of the preset's graph version that reads the preset at every fire (its
    inputs and credentials as they are then; the body's inputs override them)."""
    preset = await _mine(request)
    body = await parse_body(request, SchedulePreset)
    service = ScheduleService(get_platform(request))
    record = await service.create(
        preset.user_id,
        preset.graph_id,
        name=body.name,
        cron=body.cron,
        timezone=body.timezone,
        inputs=body.inputs,
        graph_version=preset.graph_version,
        preset_id=preset.id,
    )
    return service.view(record)


def routes() -> list[BaseRoute]:
    """The preset routes."""
    return [
        list_presets,
        create_preset,
        get_preset,
        update_preset,
        delete_preset,
        execute_preset,
        schedule_preset,
    ]
