"""Admin routes of the system jobs: their last run and outcome, and a run-now trigger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import page_of, paginated

_TAGS = ["admin"]


class SystemJobView(BaseModel):
    """A system job: when it runs, and how its last run went."""

    name: str
    cron: str
    last_run_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    details: dict[str, Any]


async def _views(request: Request) -> list[SystemJobView]:
    jobs = get_platform(request).scheduler.jobs
    stored = {j.name: j for j in await jobs.store.list_jobs()}
    views = []
    for name, (cron, _) in jobs.crons.items():
        row = stored.get(name)
        views.append(
            SystemJobView(
                name=name,
                cron=cron,
                last_run_at=row.last_run_at if row else None,
                last_outcome=row.last_outcome if row else None,
                last_error=row.last_error if row else None,
                details=row.details if row else {},
            )
        )
    return views


@endpoint(
    "GET",
    "/admin/jobs",
    response=SystemJobView,
    paginated=True,
    admin=True,
    summary="System jobs and their last outcome",
    tags=_TAGS,
)
async def list_jobs(request: Request) -> dict[str, Any]:
    """The stuck-run monitor and the retention job: cron, last run, outcome and details."""
    views = await _views(request)
    page = page_of(request)
    return paginated(views[page.offset : page.offset + page.page_size], len(views), page)


@endpoint(
    "POST",
    "/admin/jobs/{name}/run",
    response=SystemJobView,
    admin=True,
    summary="Run a system job now",
    tags=_TAGS,
)
async def run_job(request: Request) -> SystemJobView:
    """Run the job at once and answer with its recorded outcome."""
    name = str(request.path_params["name"])
    await get_platform(request).scheduler.jobs.run_now(name)
    return next(v for v in await _views(request) if v.name == name)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [list_jobs, run_job]
