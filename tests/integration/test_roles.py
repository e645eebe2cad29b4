"""Roles apart on PostgreSQL: one api, two worker and one scheduler ``autoplat serve``
processes on one (empty) database.

They migrate it once between them at start; runs submitted to the api complete on the
workers (the api never claims one), a schedule fires once, a stop sent to the api reaches
the worker holding the run, and ``/ws`` on the api sees every event of every run. On SQLite
a role apart is refused in one line (tests/integration/test_cli_admin.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from autoplat.config import Settings
from autoplat.db import migrate
from autoplat.db.manager import DatabaseManager
from autoplat.testing import PG_ENV, free_port, make_token, serve_process, wait_ready
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node

USER = "roles-user"
RUNS = 12

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason="roles apart need PostgreSQL"),
]


class Cluster:
    """The four processes and what the test needs to reach them."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp_path = tmp_path
        self.procs: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}

    def start(self, name: str, roles: str, **settings: str) -> None:
        port = free_port()
        log = self.tmp_path / f"{name}.log"
        proc = serve_process(
            self.database_url, port, self.tmp_path / name, log, roles=roles, **settings
        )
        self.procs[name] = (port, proc)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.procs[name][0]}"

    def pid(self, name: str) -> int:
        return self.procs[name][1].pid

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def stop(self) -> dict[str, int]:
        for _, proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, (_, proc) in self.procs.items():
            try:
                codes[name] = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes


class EventLog:
    """Every event ``/ws`` on the api sends, collected in the background."""

    def __init__(self) -> None:
        self.graph: list[dict[str, Any]] = []
        self.node: list[dict[str, Any]] = []

    async def follow(self, ws: Any) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("method") == "graph_execution_event":
                self.graph.append(message["data"])
            elif message.get("method") == "node_execution_event":
                self.node.append(message["data"])

    def run_statuses(self, run_id: str) -> list[str]:
        return [e["status"] for e in self.graph if e["id"] == run_id]

    def final_node_statuses(self, run_id: str) -> dict[str, str]:
        last: dict[str, str] = {}
        for event in self.node:
            if event["graph_exec_id"] == run_id:
                last[event["node_exec_id"]] = event["status"]
        return last


async def _subscribe(ws: Any, graph_id: str) -> None:
    await ws.send(
        json.dumps({"method": "subscribe_graph_executions", "data": {"graph_id": graph_id}})
    )


async def _wait_status(db: DatabaseManager, run_id: str, status: str, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        row = await db.executions.get_run(run_id)
        if row is not None and row.status == status:
            return row
        assert loop.time() < deadline, f"run {run_id} is {row and row.status}, not {status}"
        await asyncio.sleep(0.05)


async def test_api_workers_and_scheduler_apart(autoplat_database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=autoplat_database_url, data_dir=tmp_path)
    db = DatabaseManager(settings)
    await db.connect()
    await migrate.downgrade(db.engine, "base")  # the processes migrate it between them
    cluster = Cluster(autoplat_database_url, tmp_path)
    cluster.start("api", "api")
    # Two runs at a time each: the runs below must spread over both workers.
    cluster.start("worker1", "worker", graph_workers="2")
    cluster.start("worker2", "worker", graph_workers="2")
    cluster.start("scheduler", "scheduler")
    events = EventLog()
    follower: asyncio.Task[None] | None = None
    headers = {"Authorization": f"Bearer {make_token(USER)}"}
    try:
        for port, proc in cluster.procs.values():
            await wait_ready(port, proc, timeout=60)
        assert await migrate.current_revision(db.engine) == migrate.head_revision()
        migrated = [n for n in cluster.procs if '"event": "db.migrated"' in cluster.log(n)]
        assert len(migrated) == 1, migrated  # one of them migrated; the others found it current

        async with httpx.AsyncClient(timeout=30) as probe:
            for name in cluster.procs:
                for path in ("/health", "/ready", "/metrics"):
                    answer = await probe.get(cluster.url(name) + path)
                    assert answer.status_code == 200, (name, path, answer.text)
                # Each process says which roles it plays, and that they are up.
                roles = re.findall(r'^autoplat_role_up\{role="(\w+)"\} 1\.0$', answer.text, re.M)
                assert roles == [name.rstrip("12")], (name, roles)
                if name != "api":  # the REST API and the web app live on the api alone
                    assert (await probe.get(cluster.url(name) + "/api/graphs")).status_code == 404

        async with httpx.AsyncClient(
            base_url=cluster.url("api"), headers=headers, timeout=30
        ) as api:
            await api.post("/api/auth/user")
            x = input_node("x")
            wait = node(tk.COUNTDOWN, seconds=1)
            out = output_node("result")
            links = [
                link(x, "result", wait, "input_message"),
                link(wait, "output_message", out, "value"),
            ]
            slow = tk.graph([x, wait, out], links, "one second")
            graph = (await api.post("/api/graphs", json=slow.model_dump())).json()
            long = tk.graph([node(tk.COUNTDOWN, seconds=60)], [], "a minute")
            long_graph = (await api.post("/api/graphs", json=long.model_dump())).json()

            ws = await websockets.connect(
                "ws" + cluster.url("api").removeprefix("http") + "/ws",
                additional_headers=headers,
                max_size=None,
            )
            for graph_id in (graph["id"], long_graph["id"]):
                await _subscribe(ws, graph_id)
            await asyncio.sleep(0.3)  # the subscriptions are answered before any run exists
            follower = asyncio.create_task(events.follow(ws))

            # Runs submitted to the api complete on the workers.
            run_ids = []
            for i in range(RUNS):
                started = await api.post(
                    f"/api/graphs/{graph['id']}/execute/{graph['version']}",
                    json={"inputs": {"x": i}},
                )
                assert started.status_code == 200, started.text
                run_ids.append(started.json()["graph_exec_id"])
            rows = [await tk.wait_for_run(db, run_id, timeout=60) for run_id in run_ids]
            assert Counter(r.status for r in rows) == {"COMPLETED": RUNS}
            assert [r.outputs for r in rows] == [{"result": [i]} for i in range(RUNS)]
            async with db.begin() as conn:
                workers = {
                    pid: worker_id
                    for worker_id, pid in await conn.execute(text("SELECT id, pid FROM workers"))
                }
            owners = Counter(r.lease_owner for r in rows)
            worker_ids = {workers[cluster.pid("worker1")], workers[cluster.pid("worker2")]}
            assert set(owners) == worker_ids, owners  # both workers ran some; nobody else did

            # A stop sent to the api reaches the worker that holds the run.
            started = await api.post(f"/api/graphs/{long_graph['id']}/execute/1", json={})
            long_id = started.json()["graph_exec_id"]
            running = await _wait_status(db, long_id, "RUNNING", 30)
            assert running.lease_owner in worker_ids
            stopped = await api.post(f"/api/graphs/{long_graph['id']}/executions/{long_id}/stop")
            assert stopped.status_code == 200 and stopped.json()["status"] == "TERMINATED"

            # A schedule fires once, on the scheduler, and its run completes on a worker.
            at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
            created = await api.post(
                f"/api/graphs/{graph['id']}/schedules",
                json={
                    "name": "once",
                    "cron": f"{at.second} {at.minute} {at.hour} * * *",
                    "timezone": "UTC",
                    "inputs": {"x": 99},
                },
            )
            assert created.status_code == 200, created.text
            schedule_id = created.json()["id"]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while True:
                async with db.begin() as conn:
                    fired = (
                        await conn.execute(
                            text("SELECT id FROM graph_executions WHERE schedule_id = :s"),
                            {"s": schedule_id},
                        )
                    ).all()
                if fired:
                    break
                assert loop.time() < deadline, "the schedule did not fire"
                await asyncio.sleep(0.2)
            scheduled = await tk.wait_for_run(db, fired[0][0], timeout=30)
            assert scheduled.status == "COMPLETED" and scheduled.lease_owner in worker_ids
            await asyncio.sleep(2)  # time for a second, wrong fire to show up
            async with db.begin() as conn:
                fires = (
                    await conn.execute(
                        text("SELECT graph_exec_id FROM schedule_fires WHERE schedule_id = :s"),
                        {"s": schedule_id},
                    )
                ).all()
            assert [f[0] for f in fires] == [scheduled.id]

            # /ws on the api saw every event of the runs it was asked about.
            await asyncio.sleep(1.0)
            for run_id in [*run_ids, scheduled.id]:
                statuses = events.run_statuses(run_id)
                assert statuses and statuses[-1] == "COMPLETED", (run_id, statuses)
                assert "RUNNING" in statuses, (run_id, statuses)
                nodes = await db.executions.get_nodes(run_id)
                assert events.final_node_statuses(run_id) == {n.id: n.status for n in nodes}
            for run_id in run_ids:
                assert events.run_statuses(run_id)[0] == "QUEUED"  # announced by the api
            assert events.run_statuses(long_id)[-1] == "TERMINATED"
            await ws.close()
    finally:
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(BaseException):
                await follower
        codes = cluster.stop()
        await db.disconnect()
    assert codes == dict.fromkeys(cluster.procs, 0), {n: cluster.log(n)[-3000:] for n in codes}
    assert '"roles": ["api"]' in cluster.log("api")
    assert "scheduler.started" in cluster.log("scheduler")
    assert "scheduler.started" not in cluster.log("api") + cluster.log("worker1")
