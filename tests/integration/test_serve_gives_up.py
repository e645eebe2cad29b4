"""A real ``autoplat serve`` whose critical loop keeps failing stops being ready and exits 1.

The fault is real and comes from outside the process: the runs table is renamed away under
the running server, so every claim of the claim loop fails in the database. The loop is
restarted with backoff (``/ready`` answers 503 meanwhile, naming it), given up on after
``AUTOPLAT_LOOP_MAX_FAILURES`` failures, and the process exits 1 with every failure's
traceback in its log. On PostgreSQL the same rename breaks the same statements.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from autoplat.testing import free_port, serve_process, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
#: Failures before the give-up: backoffs of 0.1, 0.2 and 0.4 s keep /ready red for a while.
MAX_FAILURES = 4
#: Seconds the failing server may take to exit: the failures, the backoffs, the drain.
EXIT_WITHIN = 30.0


async def _rename_runs_table(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE graph_executions RENAME TO graph_executions_gone"))
    finally:
        await engine.dispose()


def _log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


async def _wait_until_ready(client: httpx.AsyncClient, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await client.get("/ready")).status_code != 200:
        assert loop.time() < deadline, "the server never became ready"
        await asyncio.sleep(0.05)


async def test_a_server_whose_claim_loop_keeps_failing_turns_unready_and_exits_1(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    proc = serve_process(
        autoplat_database_url,
        port,
        tmp_path / "data",
        log,
        loop_max_failures=str(MAX_FAILURES),
        drain_timeout="3",
    )
    unready: list[str] = []
    try:
        await wait_ready(port, proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            await _wait_until_ready(client)
            await _rename_runs_table(autoplat_database_url)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + EXIT_WITHIN
            while proc.poll() is None and loop.time() < deadline:
                try:
                    answer = await client.get("/ready")
                except httpx.TransportError:
                    pass  # the server is stopping: it no longer listens
                else:
                    if answer.status_code != 200:
                        assert answer.status_code == 503
                        unready.append(answer.json()["error"]["message"])
                await asyncio.sleep(0.02)
        code = await asyncio.to_thread(proc.wait, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 1, log.read_text()[-3000:]
    assert unready, "/ready never answered 503 while the claim loop failed"
    assert any("executions:claim is failing" in detail for detail in unready)

    lines = _log_lines(log)
    failures = [line for line in lines if line["event"] == "loop.failed"]
    claim_failures = [line for line in failures if line["loop"] == "executions:claim"]
    assert len(claim_failures) == MAX_FAILURES
    for failure in claim_failures:
        assert failure["exception"].startswith("Traceback (most recent call last)")
        assert "graph_executions" in failure["exception"]  # the database's own complaint
    [gave_up] = [line for line in lines if line["event"] == "loop.gave_up"]
    assert gave_up["loop"] == "executions:claim"
    assert gave_up["failures"] == MAX_FAILURES
    assert any(line["event"] == "serve.fatal" for line in lines)
