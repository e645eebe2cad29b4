"""The operator's CLI as it is run: real subprocesses beside a real server.

Admin commands print only their answer (no log lines), list commands print a table or
JSON lines with ``--json``, errors are one line with the documented exit code; graphs,
runs and schedules can be listed, shown and changed; a SQLite database is backed up while
the server writes and restored into an empty data dir only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from autoplat.testing import PG_ENV, TEST_ENCRYPTION_KEY, free_port, make_token, serve_process
from autoplat.testing import wait_ready as wait_serving
from tests.support import graphs as tk
from tests.support.graphs import node

USER = "ops-user"
ON_PG = bool(os.environ.get(PG_ENV))
# Each test starts a dozen or more CLI processes one after another, each paying Python's
# start-up and our imports (seconds apiece on a loaded two-core machine): far past the
# suite's 120 s hang guard there, with no wait to shorten; nothing here waits idle.
pytestmark = pytest.mark.timeout(600)


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(data_dir),
        AUTOPLAT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        # What an operator's shell may well carry: admin commands stay quiet anyway.
        AUTOPLAT_LOG_LEVEL="info",
        AUTOPLAT_LOG_FORMAT="json",
    )
    return env


async def autoplat(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one command in a thread (the test's event loop keeps serving its clients)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "autoplat", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


async def ok(env: dict[str, str], *args: str) -> str:
    result = await autoplat(env, *args)
    assert result.returncode == 0, (args, result.stderr)
    assert result.stderr == "", (args, result.stderr)  # the answer alone: no log lines
    return result.stdout


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@dataclass
class Server:
    url: str
    http: httpx.AsyncClient
    env: dict[str, str]
    data_dir: Path


@pytest.fixture
async def server(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Server]:
    data_dir = tmp_path / "data"
    port = free_port()
    proc = serve_process(autoplat_database_url, port, data_dir, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {make_token(USER)}"}
    try:
        await wait_serving(port, proc, 120)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            await http.post("/api/auth/user")
            yield Server(url, http, _env(autoplat_database_url, data_dir), data_dir)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 20)


async def _graph(server: Server, graph: Any) -> str:
    created = await server.http.post("/api/graphs", json=graph.model_dump())
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


async def _run(server: Server, graph_id: str, **inputs: Any) -> str:
    started = await server.http.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": inputs})
    assert started.status_code == 200, started.text
    return str(started.json()["graph_exec_id"])


async def _status(server: Server, graph_id: str, run_id: str, wanted: str) -> None:
    for _ in range(2000):  # 100 s or more; it ends as soon as the run is there
        run = (await server.http.get(f"/api/graphs/{graph_id}/executions/{run_id}")).json()
        if run["status"] == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run['status']}, not {wanted}")


async def test_graphs_and_runs_listed_shown_stopped_and_deleted(server: Server) -> None:
    env, user = server.env, ["--user", USER]
    chain = await _graph(server, tk.chain_graph(2))
    # Ten minutes: the run must still be going when `runs stop` reaches it, after a dozen
    # CLI processes have started (30 s ran out once on a loaded two-core machine).
    wait = await _graph(server, tk.graph([node(tk.COUNTDOWN, seconds=600)], [], "long wait"))

    table = await ok(env, "graphs", "list", *user)
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "VERSION", "NAME", "NODE_COUNT", "CREATED_AT"]
    assert {r.split()[0] for r in rows} == {chain, wait}
    listed = lines(await ok(env, "graphs", "list", *user, "--json"))
    assert {g["id"] for g in listed} == {chain, wait}
    assert (await ok(env, "graphs", "list")).splitlines()[1:] == []  # the local user has none
    shown = await ok(env, "graphs", "show", chain, *user)
    assert "id:" in shown and chain in shown and "nodes:" in shown
    assert json.loads(await ok(env, "graphs", "show", chain, *user, "--json"))["id"] == chain

    done = await _run(server, chain, x=41)
    await _status(server, chain, done, "COMPLETED")
    running = await _run(server, wait)
    await _status(server, wait, running, "RUNNING")
    runs = lines(await ok(env, "runs", "list", *user, "--json"))
    assert [r["id"] for r in runs] == [running, done]
    only = lines(await ok(env, "runs", "list", *user, "--graph", chain, "--json"))
    assert [r["id"] for r in only] == [done]
    detail = json.loads(await ok(env, "runs", "show", done, *user, "--json"))
    assert detail["outputs"] == {"result": [41]} and len(detail["node_executions"]) == 4
    human = await ok(env, "runs", "show", done, *user)
    assert "COMPLETED" in human and "StoreValueBlock" in human

    # The stop reaches the server that holds the run and the command waits for the end.
    stopped = json.loads(await ok(env, "runs", "stop", running, *user))
    assert stopped["status"] == "TERMINATED"
    again = json.loads(await ok(env, "runs", "stop", running, *user))
    assert again["status"] == "TERMINATED"

    deleted = json.loads(await ok(env, "graphs", "delete", wait, *user))
    assert deleted == {"deleted": True, "id": wait, "versions": 1}
    assert (await server.http.get(f"/api/graphs/{wait}")).status_code == 404

    # Errors: one line, the documented exit code; other users' things do not exist.
    for args in (
        ["graphs", "show", wait, *user],
        ["graphs", "delete", chain],
        ["runs", "show", done],
        ["runs", "stop", "no-such-run", *user],
    ):
        result = await autoplat(env, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("autoplat: ")
        assert "not found" in result.stderr and result.stdout == ""


async def test_schedules_listed_paused_and_resumed(server: Server) -> None:
    env, user = server.env, ["--user", USER]
    graph_id = await _graph(server, tk.chain_graph(1))
    made = await server.http.post(
        f"/api/graphs/{graph_id}/schedules",
        json={"name": "nightly", "cron": "0 9 * * *", "inputs": {"x": 1}},
    )
    assert made.status_code == 200, made.text
    schedule_id = made.json()["id"]
    table = (await ok(env, "schedules", "list", *user)).splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "GRAPH_ID"] and schedule_id in table[1]
    (listed,) = lines(await ok(env, "schedules", "list", *user, "--json"))
    assert listed["status"] == "ACTIVE" and listed["next_run_time"] is not None
    paused = json.loads(await ok(env, "schedules", "pause", schedule_id, *user))
    assert paused["status"] == "PAUSED" and paused["next_run_time"] is None
    api = (await server.http.get(f"/api/schedules/{schedule_id}")).json()
    assert api["status"] == "PAUSED"
    resumed = json.loads(await ok(env, "schedules", "resume", schedule_id, *user))
    assert resumed["status"] == "ACTIVE"
    missing = await autoplat(env, "schedules", "pause", schedule_id)  # the local user's: none
    assert missing.returncode == 1 and "not found" in missing.stderr


@pytest.mark.skipif(ON_PG, reason="backup and restore copy the embedded SQLite database")
async def test_backup_while_serving_then_restore_into_an_empty_data_dir(
    server: Server, tmp_path: Path
) -> None:
    env, user = server.env, ["--user", USER]
    graph_id = await _graph(server, tk.chain_graph(1))
    # Keep the server writing while the backup is taken.
    runs = [await _run(server, graph_id, x=i) for i in range(20)]
    backup = tmp_path / "backups" / "autoplat.backup"
    written = json.loads(await ok(env, "backup", str(backup)))
    assert written["backup"] == str(backup) and written["revision"] is not None
    assert backup.is_file() and written["bytes"] == backup.stat().st_size
    refused = await autoplat(env, "backup", str(backup))
    assert refused.returncode == 1 and "exists already" in refused.stderr

    # Into the server's own (non-empty) data dir: refused, nothing touched.
    into_live = await autoplat(env, "restore", str(backup))
    assert into_live.returncode == 1 and "not empty" in into_live.stderr

    fresh = tmp_path / "restored"
    restored_env = {**env, "AUTOPLAT_DATA_DIR": str(fresh)}
    restored_env.pop("AUTOPLAT_DATABASE_URL")
    # A command run there first leaves an empty database file: that still counts as empty.
    early = await autoplat(restored_env, "runs", "list")
    assert early.returncode == 2 and "autoplat migrate" in early.stderr
    result = json.loads(await ok(restored_env, "restore", str(backup)))
    assert result["database"] == str(fresh / "autoplat.db")
    graphs = lines(await ok(restored_env, "graphs", "list", *user, "--json"))
    assert [g["id"] for g in graphs] == [graph_id]
    copied = lines(await ok(restored_env, "runs", "list", *user, "--json"))
    assert {r["id"] for r in copied} <= set(runs) and copied  # a snapshot: some or all
    again = await autoplat(restored_env, "restore", str(backup))
    assert again.returncode == 1 and "not empty" in again.stderr


async def test_quiet_commands_and_one_line_errors(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    assert "database at revision" in await ok(env, "migrate")
    assert (await ok(env, "users", "list")).split() == ["ID", "EMAIL", "NAME", "ROLE"]
    assert await ok(env, "users", "list", "--json") == ""
    assert await ok(env, "runs", "list", "--json") == ""
    assert (await ok(env, "jobs", "list")).splitlines()[0].startswith("NAME")
    # --log-level brings the logs back, on stderr only.
    loud = await autoplat(env, "users", "list", "--json", "--log-level", "info")
    assert loud.returncode == 0 and "db.connected" in loud.stderr and loud.stdout == ""

    bad = {**env, "AUTOPLAT_PORT": "70000"}
    for args in (["users", "list"], ["runs", "list"], ["serve"], ["backup", "x"]):
        result = await autoplat(bad, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "AUTOPLAT_PORT" in result.stderr
    sqlite_only = await autoplat(
        {**env, "AUTOPLAT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "backup", "x"
    )
    assert sqlite_only.returncode == 2 and "pg_dump" in sqlite_only.stderr
    if not ON_PG:
        roles = await autoplat(env, "serve", "--role", "api", "--port", "0")
        assert roles.returncode == 2
        said = [line for line in roles.stderr.splitlines() if line.startswith("autoplat:")]
        assert len(said) == 1 and "needs PostgreSQL" in said[0], roles.stderr
    unreachable = {**env, "AUTOPLAT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    for args in (["runs", "list"], ["schedules", "list"], ["graphs", "list"]):
        result = await autoplat(unreachable, *args)
        assert result.returncode == 3, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "database unavailable" in result.stderr
