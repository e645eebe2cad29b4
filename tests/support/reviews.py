"""Waiting for a run's status and deciding its reviews through the HTTP API: the steps every
human-review test takes (plain, sensitive-action and sub-agent reviews)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from autoplat.db.rows import RunRow
from autoplat.platform import Platform

#: Seconds a run may take to reach the status a test waits for (ends as soon as it does).
STATUS_TIMEOUT = 60.0


async def wait_for_status(platform: Platform, run_id: str, status: str) -> RunRow:
    """The run's row once it is in ``status`` (AssertionError naming the last one if never)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STATUS_TIMEOUT
    row = None
    while loop.time() < deadline:
        row = await platform.db.executions.get_run(run_id)
        if row is not None and row.status == status:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(
        f"run {run_id} never reached {status} (last {row.status if row else None})"
    )


async def pending_reviews(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """``GET /api/review/pending``: the reviews waiting for the client's user."""
    answer = await client.get("/api/review/pending")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def decide(client: httpx.AsyncClient, **decision: Any) -> dict[str, Any]:
    """``POST /api/review/action`` with one decision; the answer's body."""
    answer = await client.post("/api/review/action", json={"reviews": [decision]})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
