"""Routes of shared runs: the owner shares or unshares a finished run; anyone with the link
reads its outputs.

Invariant: the public route answers the outputs of a shared run and nothing else (no
inputs, node data, ids of the owner, credentials or errors); an unknown or revoked token is
a 404, as is sharing another user's run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.errors import ExecutionNotFound
from autoplat.executions.status import is_terminal
from autoplat.library.errors import RunNotFinished, ShareNotFound


class ShareOut(BaseModel):
    """A shared run's public link."""

    share_token: str
    share_url: str = Field(description="Path of the public view (no login needed).")


class SharedRunOut(BaseModel):
    """What a public link shows: the run's outputs by name."""

    outputs: dict[str, Any]


async def _own_run(request: Request) -> tuple[str, Any]:
    principal = await current_principal(request)
    graph_id = str(request.path_params["graph_id"])
    exec_id = str(request.path_params["exec_id"])
    run = await get_platform(request).db.executions.get_run(exec_id, user_id=principal.user_id)
    if run is None or run.graph_id != graph_id:
        raise ExecutionNotFound(f"execution {exec_id} does not exist")
    return principal.user_id, run


@endpoint(
    "POST",
    "/graphs/{graph_id}/executions/{exec_id}/share",
    summary="Share a finished run (its outputs) by a public link",
    tags=["executions"],
    response=ShareOut,
    permission="WRITE_GRAPH",
    errors=[409],
)
async def share_run(request: Request) -> ShareOut:
    """Make (or return) the public link of a finished run."""
    user_id, run = await _own_run(request)
    if not is_terminal(run.status):
        raise RunNotFinished(f"execution {run.id} is {run.status}; share it once it ended")
    token = await get_platform(request).db.shares.share(user_id, run.id)
    return ShareOut(share_token=token, share_url=f"/api/public/shared/{token}")


@endpoint(
    "DELETE",
    "/graphs/{graph_id}/executions/{exec_id}/share",
    summary="Unshare a run (its public link stops working)",
    tags=["executions"],
    status=204,
    permission="WRITE_GRAPH",
)
async def unshare_run(request: Request) -> None:
    """Revoke the run's public link (a run never shared answers 404)."""
    user_id, run = await _own_run(request)
    if not await get_platform(request).db.shares.unshare(user_id, run.id):
        raise ShareNotFound(f"execution {run.id} is not shared")


@endpoint(
    "GET",
    "/public/shared/{token}",
    summary="A shared run's outputs (no login)",
    tags=["executions"],
    response=SharedRunOut,
    auth=False,
)
async def shared_run(request: Request) -> SharedRunOut:
    """The outputs of the run the token was made for, while it stays shared."""
    db = get_platform(request).db
    token = str(request.path_params["token"])
    run_id = await db.shares.run_of(token) if 16 <= len(token) <= 64 else None
    run = await db.executions.get_run(run_id) if run_id is not None else None
    if run is None:
        raise ShareNotFound("this link is not shared (or no longer)")
    return SharedRunOut(outputs=dict(run.outputs or {}))


def routes() -> list[BaseRoute]:
    """The sharing routes."""
    return [share_run, unshare_run, shared_run]
