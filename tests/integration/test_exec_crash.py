"""A serving process killed with SIGKILL mid-run: a restarted one finishes every run, and no
node execution that had COMPLETED runs again.

Each node of the test graphs is a SendWebRequestBlock hitting a local recorder, so a node
execution that runs twice is seen from outside the platform, as a second hit on its path.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.graphs.model import Graph
from autoplat.testing import free_port, make_token, serve_process, wait_ready
from tests.support import graphs as tk
from tests.support.graphs import link, node
from tests.support.recorder import Recorder

CHAIN = 12
RUNS = 3
USER = "crash-user"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder.running(delay=0.08) as server:
        yield server


def serve(database_url: str, port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    return serve_process(
        database_url,
        port,
        data_dir,
        log,
        http_allow_private="true",
        lease_seconds="3",
        scheduler_enabled="false",
        log_level="info",
    )


def web_chain(base: str, run: int) -> Graph:
    nodes = [
        node(tk.WEB_REQUEST, url=f"{base}/hit/{run}/{i}", method="POST", body={"i": i})
        for i in range(CHAIN)
    ]
    links = [link(a, "response", b, "body") for a, b in itertools.pairwise(nodes)]
    return tk.graph(nodes, links, f"web chain {run}")


@pytest.mark.parametrize("same_port", [True, False], ids=["restarted", "other-process"])
async def test_sigkill_mid_run_then_restart_finishes_every_run_once(
    autoplat_database_url: str, tmp_path: Path, recorder: Recorder, same_port: bool
) -> None:
    """Restarted on the same address, a server adopts its runs at once; any other process
    takes them over when their leases lapse."""
    settings = Settings(database_url=autoplat_database_url, data_dir=tmp_path)
    db = DatabaseManager(settings)
    await db.connect()
    port = free_port()
    base = recorder.base_url
    log = tmp_path / "serve.log"
    proc = serve(autoplat_database_url, port, tmp_path, log)
    try:
        await wait_ready(port, proc)
        headers = {"Authorization": f"Bearer {make_token(USER)}"}
        run_ids = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as api:
            for run in range(RUNS):
                g = await tk.save_graph(db, USER, web_chain(base, run))
                response = await api.post(f"/api/graphs/{g.id}/execute/{g.version}", json={})
                assert response.status_code == 200, response.text
                run_ids.append(response.json()["id"])
        # Let a few nodes of each chain finish, then kill the process without warning.
        for _ in range(1000):
            if sum(recorder.hits.values()) >= RUNS * 4:
                break
            await asyncio.sleep(0.01)
        durable = {
            (n.graph_exec_id, n.node_id)
            for run_id in run_ids
            for n in await db.executions.get_nodes(run_id)
            if n.status == "COMPLETED"
        }
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        assert durable, "no node execution had completed durably before the kill"

        port = port if same_port else free_port()
        proc = serve(autoplat_database_url, port, tmp_path, log)
        await wait_ready(port, proc)
        rows = [await tk.wait_for_run(db, run_id, timeout=30) for run_id in run_ids]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        await db.disconnect()
    assert [r.status for r in rows] == ["COMPLETED"] * RUNS, log.read_text()[-3000:]
    assert all(r.stats["attempts"] >= 2 for r in rows)
    url_of: dict[tuple[str, str], str] = {}
    for run_id in run_ids:
        nodes = await _nodes(autoplat_database_url, tmp_path, run_id)
        assert len(nodes) == CHAIN and {n.status for n in nodes} == {"COMPLETED"}
        for n in nodes:
            url_of[(run_id, n.node_id)] = n.input_data["url"]
    paths = {key: url.removeprefix(base) for key, url in url_of.items()}
    assert all(recorder.hits[path] >= 1 for path in paths.values())
    for key in durable:  # completed before the kill: never ran again
        assert recorder.hits[paths[key]] == 1, paths[key]
    # Only node executions whose end was not yet durable at the kill ran twice: the one
    # running in each chain, and at most a few whose COMPLETED was still in the write buffer.
    assert sum(recorder.hits.values()) - RUNS * CHAIN <= RUNS * 3


async def _nodes(url: str, tmp_path: Path, run_id: str) -> list[Any]:
    db = DatabaseManager(Settings(database_url=url, data_dir=tmp_path))
    await db.connect()
    try:
        return await db.executions.get_nodes(run_id)
    finally:
        await db.disconnect()
