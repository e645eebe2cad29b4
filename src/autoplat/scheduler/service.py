"""Schedule use cases behind the REST routes: create, list, pause, resume, delete.

A schedule holds only credential references (id, provider, type, title), never secrets,
and only after the credentials service has found them to be the user's and of the right
provider for every node that takes them. A fire's credentials are the schedule's own over
its preset's current ones, field by field (:func:`fire_credentials`), as its inputs are.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from autoplat.db import storable
from autoplat.db.presets import Preset
from autoplat.db.schedules import ACTIVE, PAUSED, ScheduleRecord
from autoplat.errors import GraphNotFound, ScheduleNotFound, ValidationFailed
from autoplat.graphs.validation import validate_run_inputs
from autoplat.integrations.fields import parse_ref
from autoplat.library.errors import PresetNotFound
from autoplat.logging import get_logger
from autoplat.scheduler.cron import CronFormatError, CronSpec, load_timezone, normalize_cron

if TYPE_CHECKING:
    from autoplat.platform import Platform

log = get_logger("autoplat.scheduler")

USER_PAUSED = "paused by the user"


class ScheduleView(BaseModel):
    """A schedule as the API shows it; times of the next run are in its own timezone."""

    id: str
    name: str
    user_id: str
    graph_id: str
    graph_version: int
    cron: str
    timezone: str
    inputs: dict[str, Any]
    #: The schedule's own credential references (never secrets), over the preset's.
    credentials: dict[str, Any]
    preset_id: str | None
    status: str
    paused_reason: str | None
    next_run_time: datetime | None
    last_fire_at: datetime | None
    created_at: datetime


class ScheduleService:
    """Schedule use cases for one platform."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.store = platform.db.schedules

    def view(self, record: ScheduleRecord) -> ScheduleView:
        """The API view of ``record``, with its next run time in the schedule's timezone."""
        next_run: datetime | None = None
        if record.status == ACTIVE:
            try:
                spec = CronSpec.parse(record.cron, record.timezone)
            except CronFormatError:
                spec = None
            if spec is not None:
                nxt = spec.next_after(self.platform.scheduler.now())
                next_run = spec.local(nxt) if nxt is not None else None
        return ScheduleView(
            id=record.id,
            name=record.name,
            user_id=record.user_id,
            graph_id=record.graph_id,
            graph_version=record.graph_version,
            cron=record.cron,
            timezone=record.timezone,
            inputs=record.inputs,
            credentials=record.credentials_inputs,
            preset_id=record.preset_id,
            status=record.status,
            paused_reason=record.paused_reason,
            next_run_time=next_run,
            last_fire_at=record.last_fire_at,
            created_at=record.created_at,
        )

    async def _timezone_for(self, user_id: str, requested: str | None) -> str:
        if requested:
            return requested
        user = await self.platform.db.users.get(user_id)
        zone = user.timezone if user is not None else ""
        return zone if zone and zone != "not-set" else "UTC"

    async def create(
        self,
        user_id: str,
        graph_id: str,
        *,
        name: str,
        cron: str,
        timezone: str | None,
        inputs: dict[str, Any],
        graph_version: int | None,
        preset_id: str | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> ScheduleRecord:
        """Validate and store a schedule of a graph version, then start timing it.

        With ``preset_id`` the schedule runs the preset's graph version, and every fire
        reads the preset's inputs and credentials as they are then (``inputs`` and
        ``credentials`` override them); only the overrides are stored. The credentials a
        fire would run with are checked as a run's are: 422 naming the node and field
        unless each is one of the user's (or a platform one) of a provider the node takes.
        """
        zone = await self._timezone_for(user_id, timezone)
        spec = parse_spec(cron, zone)
        preset: Preset | None = None
        if preset_id is not None:
            preset = await self._preset(user_id, preset_id, graph_id, graph_version)
            graph_version = preset.graph_version
        graph = await self.platform.db.graphs.get(graph_id, graph_version, user_id=user_id)
        if graph is None:
            which = f"version {graph_version} of graph" if graph_version else "graph"
            raise GraphNotFound(f"{which} {graph_id!r} not found")
        validate_run_inputs(graph, fire_inputs(inputs, preset), self.platform.blocks)
        own = storable.sanitize(dict(credentials or {}))
        await self.platform.credentials.check_graph(user_id, graph, fire_credentials(own, preset))
        record = await self.store.create(
            user_id=user_id,
            graph_id=graph.id,
            graph_version=graph.version,
            name=name,
            cron=spec.expr,
            timezone=zone,
            inputs=inputs,
            fires_from=self.platform.scheduler.now(),
            preset_id=preset.id if preset is not None else None,
            credentials_inputs=references(own),
        )
        self.platform.scheduler.schedule_changed(record)
        log.info("schedule.created", schedule_id=record.id, graph_id=graph.id, cron=spec.expr)
        return record

    async def _preset(
        self, user_id: str, preset_id: str, graph_id: str, graph_version: int | None
    ) -> Preset:
        preset = await self.platform.db.presets.get(user_id, preset_id)
        if preset is None:  # another user's preset is not found either
            raise PresetNotFound(f"preset {preset_id} does not exist")
        problem: str | None = None
        if preset.graph_id != graph_id:
            problem = f"the preset is for graph {preset.graph_id}, not {graph_id}"
        elif graph_version is not None and graph_version != preset.graph_version:
            problem = f"the preset is for version {preset.graph_version} of the graph"
        if problem is not None:
            detail = {"field": "body.preset_id", "message": problem, "type": "preset"}
            raise ValidationFailed(problem, details=[detail])
        return preset

    async def get(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        """One of the user's schedules, or 404."""
        record = await self.store.get(schedule_id, user_id=user_id)
        if record is None:
            raise ScheduleNotFound(f"schedule {schedule_id!r} not found")
        return record

    async def pause(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        """Stop firing a schedule until it is resumed."""
        current = await self.get(user_id, schedule_id)
        if current.status == PAUSED:
            return current  # already paused: keep the reason it was paused for
        record = await self.store.set_status(
            schedule_id, status=PAUSED, user_id=user_id, reason=USER_PAUSED
        )
        if record is None:
            raise ScheduleNotFound(f"schedule {schedule_id!r} not found")
        self.platform.scheduler.schedule_changed(record)
        log.info("schedule.paused", schedule_id=schedule_id)
        return record

    async def resume(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        """Fire again from the next cron time on (fires due while paused are not run)."""
        current = await self.get(user_id, schedule_id)
        graph = await self.platform.db.graphs.get(
            current.graph_id, current.graph_version, user_id=user_id
        )
        if graph is None:
            raise GraphNotFound(
                f"version {current.graph_version} of graph {current.graph_id!r} no longer exists"
            )
        preset = None
        if current.preset_id is not None:
            preset = await self.platform.db.presets.get(user_id, current.preset_id)
        validate_run_inputs(graph, fire_inputs(current.inputs, preset), self.platform.blocks)
        parse_spec(current.cron, current.timezone)  # stored values still parse
        record = await self.store.set_status(
            schedule_id,
            status=ACTIVE,
            user_id=user_id,
            fires_from=self.platform.scheduler.now(),
        )
        if record is None:
            raise ScheduleNotFound(f"schedule {schedule_id!r} not found")
        self.platform.scheduler.schedule_changed(record)
        log.info("schedule.resumed", schedule_id=schedule_id)
        return record

    async def delete(self, user_id: str, schedule_id: str) -> None:
        """Delete a schedule and its fire records."""
        if not await self.store.delete(schedule_id, user_id=user_id):
            raise ScheduleNotFound(f"schedule {schedule_id!r} not found")
        self.platform.scheduler.schedule_changed(None, schedule_id)
        log.info("schedule.deleted", schedule_id=schedule_id)


def fire_inputs(overrides: dict[str, Any], preset: Preset | None) -> dict[str, Any]:
    """A fire's run inputs: the preset's current ones (if any) under the schedule's own."""
    return {**(preset.inputs if preset is not None else {}), **overrides}


def fire_credentials(own: dict[str, Any], preset: Preset | None) -> dict[str, Any]:
    """A fire's credential references: the preset's current ones under the schedule's own.

    The schedule's own win field by field, as its inputs do; a field only the preset
    fills follows the preset (an edited preset changes the next fire).
    """
    return {**(preset.credentials if preset is not None else {}), **own}


def references(credentials: dict[str, Any]) -> dict[str, Any]:
    """Checked credentials reduced to their references: nothing else sent is kept."""
    return {
        key: ref.model_dump(mode="json")
        for key, value in credentials.items()
        if (ref := parse_ref(value)) is not None
    }


def parse_spec(cron: str, timezone: str) -> CronSpec:
    """Both parts checked, every problem reported as a 422 field error."""
    details: list[dict[str, Any]] = []
    try:
        expr = normalize_cron(cron)
    except CronFormatError as exc:
        details.append({"field": "body.cron", "message": str(exc), "type": "cron"})
    try:
        zone = load_timezone(timezone)
    except CronFormatError as exc:
        details.append({"field": "body.timezone", "message": str(exc), "type": "timezone"})
    if details:
        raise ValidationFailed("; ".join(d["message"] for d in details), details=details)
    return CronSpec(expr, zone)
