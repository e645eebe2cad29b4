"""Routes for human reviews: what waits for the caller, and their decisions.

A decision is the caller's own: reviews of other users' runs are invisible (404 for a run,
absent from lists, ignored in an action). The last decision on a run's reviews queues the
run again; whichever process claims it resumes it where it paused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import StrictBody, page_of, paginated, parse_body
from autoplat.db.reviews import Decision, ReviewRow
from autoplat.errors import ExecutionNotFound

_TAGS = ["review"]


class ReviewOut(BaseModel):
    """One review: the data waiting for a decision (or decided), and where it comes from."""

    model_config = ConfigDict(from_attributes=True)

    node_exec_id: str
    graph_exec_id: str
    graph_id: str
    graph_version: int
    node_id: str
    name: str
    editable: bool
    payload: Any = None
    status: str
    reviewed_data: Any = None
    message: str | None = None
    created_at: datetime | None = None
    reviewed_at: datetime | None = None


class ReviewsOut(BaseModel):
    """The reviews of one run."""

    reviews: list[ReviewOut]


class ReviewItem(StrictBody):
    """One decision (AutoGPT's shape)."""

    node_exec_id: str = Field(min_length=1, max_length=36)
    approved: bool
    message: str | None = Field(default=None, max_length=10_000)
    reviewed_data: Any = Field(
        default=None, description="The data as edited by the reviewer (editable reviews)."
    )


class ReviewAction(StrictBody):
    """Body of ``POST /review/action``."""

    reviews: list[ReviewItem] = Field(min_length=1, max_length=500)


class ReviewActionOut(BaseModel):
    """What an action did."""

    decided: int
    resumed: list[str]


def _out(row: ReviewRow) -> ReviewOut:
    return ReviewOut.model_validate(row)


@endpoint(
    "GET",
    "/review/pending",
    summary="List the reviews waiting for you",
    tags=_TAGS,
    permission="READ_GRAPH",
    paginated=True,
    response=ReviewOut,
)
async def pending_reviews(request: Request) -> dict[str, Any]:
    """The caller's reviews waiting for a decision, oldest first."""
    principal = await current_principal(request)
    page = page_of(request)
    rows, total = await get_platform(request).db.reviews.pending(
        principal.user_id, offset=page.offset, limit=page.page_size
    )
    return paginated([_out(r) for r in rows], total, page)


@endpoint(
    "GET",
    "/review/execution/{graph_exec_id}",
    summary="List the reviews of one of your runs",
    tags=_TAGS,
    permission="READ_GRAPH",
    response=ReviewsOut,
    errors=[404],
)
async def execution_reviews(request: Request) -> ReviewsOut:
    """Every review of the run, waiting or decided."""
    principal = await current_principal(request)
    platform = get_platform(request)
    graph_exec_id = str(request.path_params["graph_exec_id"])
    if await platform.db.executions.get_run(graph_exec_id, user_id=principal.user_id) is None:
        raise ExecutionNotFound(f"execution {graph_exec_id} not found")
    rows = await platform.db.reviews.for_run(principal.user_id, graph_exec_id)
    return ReviewsOut(reviews=[_out(r) for r in rows])


@endpoint(
    "POST",
    "/review/action",
    summary="Approve or reject reviews",
    tags=_TAGS,
    body=ReviewAction,
    permission="EXECUTE_GRAPH",
    response=ReviewActionOut,
    errors=[422],
)
async def review_action(request: Request) -> ReviewActionOut:
    """Decide waiting reviews; a run whose last review is decided resumes where it paused."""
    principal = await current_principal(request)
    body = await parse_body(request, ReviewAction)
    platform = get_platform(request)
    decisions = [
        Decision(
            node_exec_id=item.node_exec_id,
            approved=item.approved,
            reviewed_data=item.reviewed_data,
            edited="reviewed_data" in item.model_fields_set,
            message=item.message,
        )
        for item in body.reviews
    ]
    decided, resumed = await platform.db.reviews.decide(principal.user_id, decisions)
    if resumed:
        platform.executions.wake()
    return ReviewActionOut(decided=decided, resumed=resumed)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [pending_reviews, execution_reviews, review_action]
