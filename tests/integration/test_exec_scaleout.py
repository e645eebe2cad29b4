"""Two serving processes on one PostgreSQL share the queue and run every execution once."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoplat.blocks.registry import BlockRegistry
from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.executions.manager import ExecutionManager
from autoplat.testing import PG_ENV, free_port, wait_ready
from tests.integration.test_exec_crash import serve
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node
from tests.support.recorder import Recorder

RUNS = 500
USER = "scale-user"

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason="scale-out across processes needs PostgreSQL"
)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder.running() as server:
        yield server


async def test_two_processes_run_500_executions_exactly_once(
    autoplat_database_url: str, tmp_path: Path, recorder: Recorder
) -> None:
    settings = Settings(
        database_url=autoplat_database_url, data_dir=tmp_path, credits_enabled=False
    )
    db = DatabaseManager(settings)
    await db.connect()
    url = input_node("url")
    call = node(tk.WEB_REQUEST, method="POST", body={})
    graph = await tk.save_graph(db, USER, tk.graph([url, call], [link(url, "result", call, "url")]))
    # A manager that only submits (never started): the two servers do all the work.
    submitter = ExecutionManager(settings, db, BlockRegistry.builtin())
    procs = []
    try:
        for _ in range(2):
            port = free_port()
            proc = serve(autoplat_database_url, port, tmp_path, tmp_path / f"serve-{port}.log")
            procs.append((port, proc))
        for port, proc in procs:
            await wait_ready(port, proc)
        ids = []
        for i in range(RUNS):
            ids.append(
                await submitter.submit(
                    user_id=USER,
                    graph_id=graph.id,
                    graph_version=graph.version,
                    inputs={"url": f"{recorder.base_url}/run/{i}"},
                )
            )
        rows = [await tk.wait_for_run(db, run_id, timeout=60) for run_id in ids]
    finally:
        for _, proc in procs:
            proc.send_signal(signal.SIGTERM)
        for _, proc in procs:
            proc.wait(15)
        await db.disconnect()
    assert Counter(r.status for r in rows) == {"COMPLETED": RUNS}
    assert recorder.hits == Counter({f"/run/{i}": 1 for i in range(RUNS)})
    owners = Counter(r.lease_owner for r in rows)
    assert len(owners) == 2, owners  # both processes took a share of the queue
    assert all(r.stats["attempts"] == 1 for r in rows)
