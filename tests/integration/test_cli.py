"""The command line as a user runs it: real subprocesses, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

AUTOPLAT = [sys.executable, "-m", "autoplat"]


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path),
        AUTOPLAT_LOG_FORMAT="json",
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_version() -> None:
    result = subprocess.run([*AUTOPLAT, "version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("autoplat ")


def test_help_explains_each_command() -> None:
    result = subprocess.run([*AUTOPLAT, "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "migrate", "version"):
        assert command in result.stdout
    serve = subprocess.run(
        [*AUTOPLAT, "serve", "--help"], capture_output=True, text=True, check=True
    )
    assert "SIGTERM" in serve.stdout


def test_migrate_a_new_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    result = subprocess.run(
        [*AUTOPLAT, "migrate"], capture_output=True, text=True, env=_env(url, tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout


def test_bad_database_url_exits_with_one_line(tmp_path: Path) -> None:
    for url in ("postgresql+asyncpg://nobody@127.0.0.1:1/none", "mysql://x/y"):
        result = subprocess.run(
            [*AUTOPLAT, "serve", "--port", "0"],
            capture_output=True,
            text=True,
            env=_env(url, tmp_path),
            timeout=60,
        )
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("autoplat: ")


async def test_serve_answers_then_stops_cleanly_on_sigterm(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*AUTOPLAT, "serve", "--port", str(port)],
        env=_env(autoplat_database_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Start-up takes seconds on a loaded machine; the wait ends at the first answer.
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient() as client:
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/health")
                    if response.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "no /health answer within 120 s"
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.to_thread(proc.wait, 5)
        assert code == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_commands_share_the_documented_exit_code_for_no_database(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    for command in (["graphs", "export", "g"], ["credits", "balance", "u"], ["users", "list"]):
        result = subprocess.run(
            [*AUTOPLAT, *command], capture_output=True, text=True, env=_env(url, tmp_path)
        )
        assert result.returncode == 3, (command, result.stderr)
        assert "database unavailable" in result.stderr
