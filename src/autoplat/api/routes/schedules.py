"""Routes for schedules: cron runs of a graph version (each user sees only their own)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, ensure_graph_visible, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import (
    NOT_BLANK,
    JsonInteger,
    StrictBody,
    page_of,
    paginated,
    parse_body,
    stripped_name,
    timezone_enum,
)
from autoplat.graphs.service import MAX_VERSION
from autoplat.scheduler.service import ScheduleService, ScheduleView

_TAGS = ["schedules"]


class CreateSchedule(StrictBody):
    """Body of ``POST /graphs/{graph_id}/schedules``."""

    # Not blank: a non-space character somewhere (the validator below refuses blank names).
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    # Not blank either (no fields at all never parses); the fields are checked beyond it.
    cron: str = Field(
        max_length=200,
        pattern=NOT_BLANK,
        description="5 fields (minute hour day month weekday) or 6 with seconds first",
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA name; default: the user's timezone",
        json_schema_extra=timezone_enum,
    )
    inputs: dict[str, Any] = Field(default_factory=dict, description="the run's inputs")
    graph_version: Annotated[int, Field(ge=1, le=MAX_VERSION), JsonInteger] | None = Field(
        default=None, description="default: active"
    )
    credentials: dict[str, Any] = Field(
        default_factory=dict,
        description="credential references (id, provider, type, title) every fire runs "
        "with, over the preset's field by field; each must be yours and fit its node",
    )
    preset_id: str | None = Field(
        default=None,
        max_length=36,
        description="a preset of this graph whose current inputs and credentials every fire "
        "reads (``inputs`` override them); the schedule runs the preset's version",
    )

    _strip_name = field_validator("name")(stripped_name)


class DeletedSchedule(BaseModel):
    """Answer of ``DELETE /schedules/{id}``."""

    id: str
    deleted: bool


class FireView(BaseModel):
    """One fire (or miss) of a schedule."""

    fire_time: datetime
    status: str
    graph_exec_id: str | None
    error: str | None
    created_at: datetime


def _service(request: Request) -> ScheduleService:
    return ScheduleService(get_platform(request))


def _schedule_id(request: Request) -> str:
    return str(request.path_params["schedule_id"])


@endpoint(
    "POST",
    "/graphs/{graph_id}/schedules",
    body=CreateSchedule,
    response=ScheduleView,
    permission="WRITE_SCHEDULE",
    summary="Schedule runs of a graph version",
    tags=_TAGS,
    validates="the cron expression does not parse or never fires, the inputs do not fit "
    "the graph version's input schema, the preset is of another graph or version, or a "
    "credential is not yours or not of a provider its node takes",
)
async def create_schedule(request: Request) -> ScheduleView:
    """Check the cron, timezone, run inputs and credentials; store the schedule and time it."""
    principal = await current_principal(request)
    body = await parse_body(request, CreateSchedule)
    service = _service(request)
    record = await service.create(
        principal.user_id,
        str(request.path_params["graph_id"]),
        name=body.name,
        cron=body.cron,
        timezone=body.timezone,
        inputs=body.inputs,
        graph_version=body.graph_version,
        preset_id=body.preset_id,
        credentials=body.credentials,
    )
    return service.view(record)


@endpoint(
    "GET",
    "/graphs/{graph_id}/schedules",
    response=ScheduleView,
    paginated=True,
    permission="READ_SCHEDULE",
    summary="List the schedules of a graph",
    tags=_TAGS,
)
async def list_graph_schedules(request: Request) -> dict[str, Any]:
    """The caller's schedules of one graph, newest first."""
    return await _list(request, str(request.path_params["graph_id"]))


@endpoint(
    "GET",
    "/schedules",
    response=ScheduleView,
    paginated=True,
    permission="READ_SCHEDULE",
    summary="List your schedules",
    tags=_TAGS,
)
async def list_schedules(request: Request) -> dict[str, Any]:
    """All the caller's schedules, newest first."""
    return await _list(request, None)


async def _list(request: Request, graph_id: str | None) -> dict[str, Any]:
    principal = await current_principal(request)
    page = page_of(request)
    service = _service(request)
    records, total = await service.store.list_schedules(
        user_id=principal.user_id, graph_id=graph_id, offset=page.offset, limit=page.page_size
    )
    if total == 0 and graph_id is not None:
        await ensure_graph_visible(request, principal.user_id, graph_id)
    return paginated([service.view(r) for r in records], total, page)


@endpoint(
    "GET",
    "/schedules/{schedule_id}",
    response=ScheduleView,
    permission="READ_SCHEDULE",
    summary="Get a schedule",
    tags=_TAGS,
)
async def get_schedule(request: Request) -> ScheduleView:
    """One schedule with its next run time."""
    principal = await current_principal(request)
    service = _service(request)
    return service.view(await service.get(principal.user_id, _schedule_id(request)))


@endpoint(
    "GET",
    "/schedules/{schedule_id}/fires",
    response=FireView,
    paginated=True,
    permission="READ_SCHEDULE",
    summary="The latest fires of a schedule",
    tags=_TAGS,
)
async def list_fires(request: Request) -> dict[str, Any]:
    """Up to 100 latest fires, newest first: FIRED (with its run), FAILED or MISSED."""
    principal = await current_principal(request)
    service = _service(request)
    record = await service.get(principal.user_id, _schedule_id(request))
    fires = await service.store.list_fires(record.id)
    page = page_of(request)
    views = [FireView.model_validate(f, from_attributes=True) for f in fires]
    return paginated(views[page.offset : page.offset + page.page_size], len(views), page)


@endpoint(
    "POST",
    "/schedules/{schedule_id}/pause",
    response=ScheduleView,
    permission="WRITE_SCHEDULE",
    summary="Pause a schedule",
    tags=_TAGS,
)
async def pause_schedule(request: Request) -> ScheduleView:
    """Stop firing until resumed (pausing a paused schedule changes nothing)."""
    principal = await current_principal(request)
    service = _service(request)
    return service.view(await service.pause(principal.user_id, _schedule_id(request)))


@endpoint(
    "POST",
    "/schedules/{schedule_id}/resume",
    response=ScheduleView,
    permission="WRITE_SCHEDULE",
    summary="Resume a paused schedule",
    tags=_TAGS,
    validates="the graph version no longer accepts the schedule's inputs",
)
async def resume_schedule(request: Request) -> ScheduleView:
    """Fire again from the next cron time; 422 if the graph no longer accepts the inputs."""
    principal = await current_principal(request)
    service = _service(request)
    return service.view(await service.resume(principal.user_id, _schedule_id(request)))


@endpoint(
    "DELETE",
    "/schedules/{schedule_id}",
    response=DeletedSchedule,
    permission="WRITE_SCHEDULE",
    summary="Delete a schedule",
    tags=_TAGS,
)
async def delete_schedule(request: Request) -> DeletedSchedule:
    """Remove the schedule and its fire records (runs it created stay)."""
    principal = await current_principal(request)
    schedule_id = _schedule_id(request)
    await _service(request).delete(principal.user_id, schedule_id)
    return DeletedSchedule(id=schedule_id, deleted=True)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [
        create_schedule,
        list_graph_schedules,
        list_schedules,
        get_schedule,
        list_fires,
        pause_schedule,
        resume_schedule,
        delete_schedule,
    ]
