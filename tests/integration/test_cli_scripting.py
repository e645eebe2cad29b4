"""The CLI in a script, as the README's walk-through uses it: real subprocesses.

A command's stdout is its answer alone (``KEY=$(autoplat apikey create)`` holds just the
key); a reader that stops early (``| head``) ends a command quietly; a revision alembic
does not know is bad usage in one line; and ``graphs import FILE`` then ``run FILE`` make
one graph, not two of the same content.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autoplat.cli import EXIT_CONFIG, EXIT_STDOUT_CLOSED
from autoplat.testing import (
    PG_ENV,
    TEST_ENCRYPTION_KEY,
    TEST_USER_ID,
    client_for,
    make_settings,
    running_platform,
)
from tests.support import graphs as tk
from tests.support.graphs import node

AUTOPLAT = [sys.executable, "-m", "autoplat"]
USER = TEST_USER_ID
ON_PG = bool(os.environ.get(PG_ENV))


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path / "data"),
        AUTOPLAT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        AUTOPLAT_CREDITS_ENABLED="false",
        AUTOPLAT_SCHEDULER_ENABLED="false",
        AUTOPLAT_POLL_INTERVAL="0.1",
        # The import cache of `autoplat run` lives here, apart from the developer's own.
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return env


def _autoplat(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AUTOPLAT, *args], capture_output=True, text=True, env=env, timeout=60)


def _into_a_closed_pipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command whose stdout is a pipe nobody reads any more (``| head`` that quit)."""
    read, write = os.pipe()
    os.close(read)  # closed before the command starts: its first write meets EPIPE
    try:
        return subprocess.run(
            [*AUTOPLAT, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        os.close(write)


def test_a_command_whose_reader_went_away_ends_quietly(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    for args in (["users", "list"], ["jobs", "list"], ["version"]):
        result = _into_a_closed_pipe(env, *args)
        assert result.stderr == "", (args, result.stderr)
        assert result.returncode == EXIT_STDOUT_CLOSED, (args, result.returncode)


def test_migrating_to_a_revision_that_does_not_exist_is_bad_usage_in_one_line(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    for args in (["--revision", "9999"], ["--downgrade", "nope"]):
        result = _autoplat(env, "migrate", *args)
        assert result.returncode == EXIT_CONFIG, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and args[1] in result.stderr, result.stderr
        assert "unexpected error" not in result.stderr
    both = _autoplat(env, "migrate", "--revision", "head", "--downgrade", "base")
    assert both.returncode == EXIT_CONFIG and "not allowed with" in both.stderr
    # Nothing was downgraded on the way.
    assert "database at revision" in _autoplat(env, "migrate").stdout
    assert _autoplat(env, "users", "list").returncode == 0


def test_the_key_alone_is_on_stdout_so_a_script_can_capture_it(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    made = _autoplat(env, "apikey", "create", "--user", "script", "--permission", "READ_GRAPH")
    assert made.returncode == 0, made.stderr
    assert len(made.stdout.splitlines()) == 1 and made.stdout.startswith("agpt_")
    assert "shown once" in made.stderr and made.stdout.strip() not in made.stderr


def test_an_import_refused_for_missing_fields_says_so_in_one_line(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    path = tmp_path / "not-an-agent.json"
    path.write_text('{"bad": 1}')
    result = _autoplat(env, "graphs", "import", str(path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "name: field required" in result.stderr and "nodes: field required" in result.stderr


def test_a_file_imported_by_graphs_import_is_the_graph_run_file_runs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    path = tmp_path / "my-agent.json"
    path.write_text(tk.chain_graph(1).model_dump_json())
    imported = _autoplat(env, "graphs", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    graph_id = json.loads(imported.stdout)["id"]

    ran = _autoplat(env, "run", str(path), "--input", "x=7")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"result": [7]}
    assert f"graph {graph_id} v1 (imported before)" in ran.stderr
    listed = _autoplat(env, "graphs", "list", "--json")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [graph_id]
    # --new still makes a graph of its own.
    again = _autoplat(env, "run", str(path), "--new", "--input", "x=7")
    assert again.returncode == 0 and "(imported before)" not in again.stderr


def test_serve_on_a_port_another_process_holds_stops_with_one_line(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = {**_env(autoplat_database_url, tmp_path), "AUTOPLAT_LOG_LEVEL": "warning"}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _autoplat(env, "serve", "--port", str(port))
    assert result.returncode == EXIT_CONFIG, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("autoplat:")]
    assert said == [
        f"autoplat: cannot listen on 127.0.0.1:{port}: address already in use (another "
        "process listens there: --port or AUTOPLAT_PORT picks another)"
    ], result.stderr
    assert "Traceback" not in result.stderr and "Task" not in result.stderr, result.stderr


def test_a_quiet_run_stopped_by_its_timeout_ends_with_one_plain_line(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    path = tmp_path / "countdown.json"
    countdown = tk.graph([node(tk.COUNTDOWN, seconds=30)], [], "countdown of 30 s")
    path.write_text(countdown.model_dump_json())
    result = _autoplat(env, "run", str(path), "--timeout", "1", "-q")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {}
    assert result.stderr == "autoplat: run TERMINATED\n"


@pytest.mark.skipif(ON_PG, reason="backup and restore copy the embedded SQLite database")
async def test_a_restored_backup_serves_the_files_stored_before_it(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    content = b"an upload that outlives its server\n"
    settings = make_settings(autoplat_database_url, tmp_path / "data")
    async with running_platform(settings) as (platform, _), client_for(platform, USER) as http:
        upload = {"file": ("note.txt", content, "text/plain")}
        stored = await http.post("/api/files/upload", files=upload)
        assert stored.status_code == 200, stored.text
        file_id = stored.json()["file_uri"].rsplit("/", 1)[1]
        backup = tmp_path / "backups" / "autoplat.backup"
        made = await asyncio.to_thread(_autoplat, env, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["files"] == f"{backup}.files"

    fresh = tmp_path / "restored"
    restored_env = {**env, "AUTOPLAT_DATA_DIR": str(fresh)}
    restored_env.pop("AUTOPLAT_DATABASE_URL")
    restored = _autoplat(restored_env, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    async with (
        running_platform(make_settings("", fresh)) as (platform, _),
        client_for(platform, USER) as http,
    ):
        assert (await http.get(f"/api/files/{file_id}")).status_code == 200
        downloaded = await http.get(f"/api/files/{file_id}/download")
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content == content


@pytest.mark.skipif(ON_PG, reason="the embedded SQLite database is a file of the data dir")
async def test_the_embedded_database_and_its_backup_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    # They hold hashed API keys, encrypted credentials and e-mail addresses.
    data = tmp_path / "fresh"
    async with running_platform(make_settings("", data)) as (platform, _):
        await platform.db.users.ensure(USER)
        database = data / "autoplat.db"
        wal = data / "autoplat.db-wal"
        modes = {p.name: p.stat().st_mode & 0o777 for p in (database, wal) if p.exists()}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
        env.update(AUTOPLAT_DATA_DIR=str(data), AUTOPLAT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY)
        backup = tmp_path / "backups" / "autoplat.backup"
        made = await asyncio.to_thread(_autoplat, env, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    assert modes["autoplat.db"] == 0o600 and modes.get("autoplat.db-wal", 0o600) == 0o600
    assert backup.stat().st_mode & 0o777 == 0o600
