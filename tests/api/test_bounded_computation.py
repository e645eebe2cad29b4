"""A graph author's pathological regex neither freezes the server nor runs unbounded: over the
API, ``(a|a)*b`` answers at once (RE2), and a pattern only Python's engine can run fails its
block with a clear error while ``GET /health`` keeps answering."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from autoplat.blocks import safe_regex, sandbox

EXTRACT = "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0"


async def test_the_exponential_regex_of_the_issue_answers_at_once_over_the_api(
    autoplat_client: httpx.AsyncClient,
) -> None:
    subject = "a" * 28
    response = await autoplat_client.post(
        f"/api/blocks/{EXTRACT}/execute", json={"text": subject, "pattern": "(a|a)*b"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"negative": [subject], "matched_results": [[]], "matched_count": [0]}


async def test_health_answers_while_a_backtracking_regex_runs_and_the_block_fails_clearly(
    autoplat_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_regex, "TIMEOUT", 2.0)
    # Look-ahead: no RE2 equivalent, so Python's re runs it, in a bounded child.
    body = {"text": "a" * 40, "pattern": "(a|a)*(?=b)"}
    job = asyncio.create_task(autoplat_client.post(f"/api/blocks/{EXTRACT}/execute", json=body))
    while sandbox.running() == 0:
        assert not job.done(), job.result().text
        await asyncio.sleep(0.01)
    health = await autoplat_client.get("/health")
    assert health.status_code == 200
    # /health answered while the regex job was still in flight.
    assert sandbox.running() == 1 and not job.done()
    response = await job
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "regex_timeout"
    assert "longer than 2s" in error["message"] and "backtracks" in error["message"]
