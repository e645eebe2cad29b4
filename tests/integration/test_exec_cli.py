"""``autoplat run``: real subprocesses run a graph file or a stored graph, either through a
running server's API (``--server``) or in their own process, where they run only their own
run and fire no schedule."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.models import GraphExecution, ScheduleFire
from autoplat.executions import events
from autoplat.executions.cli import parse_inputs, run_graph
from autoplat.executions.cli_remote import run_remote
from autoplat.graphs.model import Graph
from autoplat.testing import (
    free_port,
    make_token,
    running_platform,
    serve_process,
    wait_ready,
)
from tests.support import graphs as tk
from tests.support.graphs import link, node

AUTOPLAT = [sys.executable, "-m", "autoplat"]
OTHER = "someone-else"
#: A client never opens the database: a URL that cannot work proves it.
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/nothing"


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path),
        AUTOPLAT_CREDITS_ENABLED="false",
        AUTOPLAT_SCHEDULER_ENABLED="false",
        AUTOPLAT_POLL_INTERVAL="0.1",
    )
    env.update(extra)
    return env


def _run(
    args: list[str], database_url: str, tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUTOPLAT, "run", *args],
        capture_output=True,
        text=True,
        env=_env(database_url, tmp_path, **extra),
        timeout=60,
    )


def _countdown(seconds: int) -> Graph:
    return tk.graph([node(tk.COUNTDOWN, seconds=seconds)], [], f"countdown of {seconds} s")


def _delayed_fanout(count: int) -> Graph:
    """A fanout of ``count`` items after a one-second countdown (time to subscribe)."""
    wait = node(tk.COUNTDOWN, input_message=list(range(count)), seconds=1)
    step = node(tk.STEP_THROUGH)
    store = node(tk.STORE_VALUE)
    links = [link(wait, "output_message", step, "items"), link(step, "item", store, "input")]
    return tk.graph([wait, step, store], links, f"delayed fanout of {count}")


def test_run_a_graph_file_prints_progress_and_outputs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "chain.json"
    path.write_text(tk.chain_graph(2).model_dump_json())
    result = _run([str(path), "--input", "x=41"], autoplat_database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"result": [41]}
    assert "COMPLETED  StoreValueBlock" in result.stderr
    assert "run COMPLETED" in result.stderr


def test_run_a_stored_graph_and_report_bad_inputs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    import asyncio

    async def store() -> str:
        db = DatabaseManager(Settings(database_url=autoplat_database_url, data_dir=tmp_path))
        await db.connect()
        try:
            return (await tk.save_graph(db, "local", tk.chain_graph(1))).id
        finally:
            await db.disconnect()

    graph_id = asyncio.run(store())
    ok = _run([graph_id, "-i", 'x={"a": [1]}', "-q"], autoplat_database_url, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"result": [{"a": [1]}]}
    assert ok.stderr == ""
    missing = _run([graph_id], autoplat_database_url, tmp_path)
    assert missing.returncode == 1
    # One line: the detail it would repeat (the pin and its message) is not printed again.
    assert missing.stderr == "autoplat: cannot run graph: required graph input 'x' is missing\n"
    unknown = _run(["no-such-graph"], autoplat_database_url, tmp_path)
    assert unknown.returncode == 1 and "not found" in unknown.stderr
    bad = _run([graph_id, "-i", "novalue"], autoplat_database_url, tmp_path)
    assert bad.returncode == 2 and "name=value" in bad.stderr


def test_parse_inputs() -> None:
    assert parse_inputs(["a=1", "b=text", "c=", "d=[1, 2]"]) == {
        "a": 1,
        "b": "text",
        "c": "",
        "d": [1, 2],
    }


# --- client of a running server ---------------------------------------------------------


@dataclass
class Server:
    """A real ``autoplat serve`` process and the credentials of one of its users."""

    url: str
    user_id: str
    token: str
    api_key: str
    http: httpx.AsyncClient


@pytest.fixture
async def server(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Server]:
    port = free_port()
    proc = serve_process(autoplat_database_url, port, tmp_path, tmp_path / "serve.log")
    user = "cli-user"
    token = make_token(user)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(port, proc)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            await http.post("/api/auth/user")
            created = await http.post(
                "/api/api-keys",
                json={"name": "cli", "permissions": ["READ_GRAPH", "WRITE_GRAPH", "EXECUTE_GRAPH"]},
            )
            assert created.status_code == 200, created.text
            yield Server(url, user, token, created.json()["plain_text_key"], http)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def _client_env(server: Server) -> dict[str, str]:
    return {"AUTOPLAT_SERVER_URL": server.url}


async def _run_async(
    args: list[str], tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    # The server fixture lives in this event loop: block it in a thread, not in the loop.
    return await asyncio.to_thread(_run, args, NO_DATABASE, tmp_path, **extra)


async def test_with_a_server_a_file_is_imported_run_and_followed_through_its_api(
    server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "chain.json"
    path.write_text(tk.chain_graph(2).model_dump_json())
    result = await _run_async(
        [str(path), "--input", "x=41", "--server", server.url, "--api-key", server.api_key],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"result": [41]}
    assert "COMPLETED  StoreValueBlock" in result.stderr
    assert "run COMPLETED" in result.stderr
    runs = (await server.http.get("/api/executions")).json()["items"]
    assert [(r["status"], r["inputs"]) for r in runs] == [("COMPLETED", {"x": 41})]


async def test_with_a_server_from_the_environment_errors_come_from_its_answers(
    server: Server, tmp_path: Path
) -> None:
    graph = (await server.http.post("/api/graphs", json=tk.chain_graph(1).model_dump())).json()
    env = {"AUTOPLAT_SERVER_URL": server.url, "AUTOPLAT_TOKEN": server.token}
    ok = await _run_async([graph["id"], "-i", 'x={"a": [1]}', "-q"], tmp_path, **env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"result": [{"a": [1]}]}
    assert ok.stderr == ""
    missing = await _run_async([graph["id"]], tmp_path, **env)
    assert missing.returncode == 1
    assert missing.stderr == "autoplat: cannot run graph: required graph input 'x' is missing\n"
    unknown = await _run_async(["no-such-graph"], tmp_path, **env)
    assert unknown.returncode == 1 and "not found" in unknown.stderr
    bad_key = await _run_async(
        [graph["id"], "-i", "x=1"],
        tmp_path,
        AUTOPLAT_SERVER_URL=server.url,
        AUTOPLAT_API_KEY="agpt_wrong",
    )
    assert bad_key.returncode == 2, bad_key.stderr
    nobody = await _run_async(
        [graph["id"], "--server", f"http://127.0.0.1:{free_port()}"], tmp_path
    )
    assert nobody.returncode == 3 and "cannot reach" in nobody.stderr
    as_user = await _run_async([graph["id"], "--user", "x"], tmp_path, **env)
    assert as_user.returncode == 2 and "--user is for local runs" in as_user.stderr


async def test_with_a_server_a_timeout_stops_the_run_through_its_api(
    server: Server, tmp_path: Path
) -> None:
    graph = (await server.http.post("/api/graphs", json=_countdown(30).model_dump())).json()
    started = time.perf_counter()
    result = await _run_async(
        [graph["id"], "--timeout", "1", "--server", server.url, "--api-key", server.api_key],
        tmp_path,
    )
    assert time.perf_counter() - started < 20
    assert result.returncode == 1
    assert "timed out after 1 s: stopping" in result.stderr
    assert "run TERMINATED" in result.stderr
    runs = (await server.http.get("/api/executions")).json()["items"]
    assert [r["status"] for r in runs] == ["TERMINATED"]


async def test_a_client_that_lags_behind_its_run_reads_the_state_and_ends_with_it(
    autoplat_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path)
    async with running_platform(settings) as (platform, _):
        # Two events waiting make the server's subscription for the client lag.
        platform.executions.bus.subscriber_limit = 2
        saved = await tk.save_graph(platform.db, "user-a", _delayed_fanout(300))
        args = argparse.Namespace(
            target=saved.id,
            version=None,
            timeout=0,
            quiet=False,
            server=platform.url,
            api_key=None,
            token=make_token("user-a"),
        )
        assert await run_remote(args, {}, None) == 0
    out = capsys.readouterr()
    assert "{}" in out.out.splitlines()  # the outputs (the platform's logs go there too)
    assert "fell behind the run's events" in out.err
    assert out.err.rstrip().splitlines()[-1].startswith("run COMPLETED")


# --- in this process: only its own run, no scheduler ------------------------------------


async def test_a_local_run_leaves_queued_runs_of_other_users_alone(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path, graph_workers=1, drain_timeout=0.5)
    async with running_platform(settings) as (platform, _):
        busy = await tk.save_graph(platform.db, OTHER, _countdown(30))
        await platform.executions.submit(
            user_id=OTHER, graph_id=busy.id, graph_version=busy.version
        )
        quick = await tk.save_graph(platform.db, OTHER, tk.chain_graph(1))
        waiting = [
            await platform.executions.submit(
                user_id=OTHER, graph_id=quick.id, graph_version=quick.version, inputs={"x": i}
            )
            for i in range(3)
        ]
        path = tmp_path / "mine.json"
        path.write_text(tk.chain_graph(1).model_dump_json())
        result = await asyncio.to_thread(
            _run, [str(path), "-i", "x=7"], autoplat_database_url, tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"result": [7]}
        rows = await platform.db.executions.get_runs(waiting)
        assert sorted(r.status for r in rows) == ["QUEUED"] * 3
        assert all(r.started_at is None for r in rows)


async def test_a_local_run_fires_no_schedule(autoplat_database_url: str, tmp_path: Path) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path, scheduler_enabled=False)
    async with (
        running_platform(settings) as (platform, _),
        httpx.AsyncClient(
            base_url=platform.url,
            headers={"Authorization": f"Bearer {make_token(OTHER)}"},
            timeout=30,
        ) as other,
    ):
        graph = (await other.post("/api/graphs", json=tk.chain_graph(1).model_dump())).json()
        created = await other.post(
            f"/api/graphs/{graph['id']}/schedules",
            json={"name": "each second", "cron": "* * * * * *", "inputs": {"x": 1}},
        )
        assert created.status_code == 200, created.text
    # A local run that lives through a few ticks of that schedule, scheduler enabled.
    path = tmp_path / "wait.json"
    path.write_text(_countdown(3).model_dump_json())
    result = await asyncio.to_thread(
        _run, [str(path)], autoplat_database_url, tmp_path, AUTOPLAT_SCHEDULER_ENABLED="true"
    )
    assert result.returncode == 0, result.stderr
    db = DatabaseManager(Settings(database_url=autoplat_database_url, data_dir=tmp_path))
    await db.connect()
    try:
        async with db.begin() as conn:
            fires = (await conn.execute(select(func.count()).select_from(ScheduleFire))).scalar()
            scheduled = (
                await conn.execute(
                    select(func.count())
                    .select_from(GraphExecution)
                    .where(GraphExecution.schedule_id.is_not(None))
                )
            ).scalar()
    finally:
        await db.disconnect()
    assert (fires, scheduled) == (0, 0)


async def test_a_local_run_that_lags_behind_its_events_reads_its_state(
    autoplat_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(events, "SUBSCRIBER_QUEUE", 2)  # the CLI's bus lags at once
    settings = tk.exec_settings(autoplat_database_url, tmp_path, scheduler_enabled=False)
    path = tmp_path / "fanout.json"
    path.write_text(tk.fanout_graph(300).model_dump_json())
    args = argparse.Namespace(target=str(path), version=None, user=None, timeout=0, quiet=False)
    from autoplat.executions.cli import load_graph_file

    assert await run_graph(settings, args, {}, load_graph_file(str(path))) == 0
    err = capsys.readouterr().err
    assert "fell behind the run's events" in err
    assert err.rstrip().splitlines()[-1].startswith("run COMPLETED")
