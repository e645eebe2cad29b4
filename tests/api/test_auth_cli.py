"""``autoplat users`` / ``autoplat apikey`` and local-mode ``serve``, as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from autoplat.testing import make_settings, running_platform

AUTOPLAT = [sys.executable, "-m", "autoplat"]


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path),
        AUTOPLAT_LOG_FORMAT="json",
        AUTOPLAT_LOG_LEVEL="warning",
        **extra,
    )
    return env


async def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *AUTOPLAT,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_users_and_apikey_commands(autoplat_database_url: str, tmp_path: Path) -> None:
    env = _env(autoplat_database_url, tmp_path)
    code, out, err = await _run(env, "users", "create", "alice", "--email", "a@example.test")
    assert code == 0, err
    assert json.loads(out) == {
        "id": "alice",
        "email": "a@example.test",
        "name": None,
        "role": "user",
    }
    code, _, err = await _run(env, "users", "create", "alice")
    assert code == 1 and "exists already" in err

    code, out, err = await _run(
        env, "apikey", "create", "--user", "alice", "--permission", "IDENTITY", "--json"
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["permissions"] == ["IDENTITY"] and created["user_id"] == "alice"
    secret = created["plain_text_key"]

    code, out, _ = await _run(env, "apikey", "list", "--user", "alice", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [created["id"]]
    assert secret not in out

    settings = make_settings(autoplat_database_url, tmp_path)
    async with (
        running_platform(settings) as (platform, _),
        httpx.AsyncClient(base_url=platform.url, headers={"X-API-Key": secret}) as keyed,
    ):
        assert (await keyed.post("/api/auth/user")).json()["id"] == "alice"
        assert (await keyed.get("/api/api-keys")).status_code == 403

        code, out, err = await _run(env, "apikey", "revoke", created["id"], "--user", "alice")
        assert code == 0, err
        assert json.loads(out)["status"] == "REVOKED"
        assert (await keyed.post("/api/auth/user")).status_code == 401

    code, out, _ = await _run(env, "users", "list", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["alice"]
    code, _, err = await _run(env, "apikey", "create", "--permission", "FLY")
    assert code == 2 and "invalid choice" in err


async def test_apikey_create_defaults_to_the_local_user_and_prints_only_the_key_on_stdout(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    code, out, err = await _run(env, "apikey", "create", "--name", "laptop")
    assert code == 0, err
    secret = out.strip()
    # The key alone on stdout (`KEY=$(autoplat apikey create)`); the note, for people, on stderr.
    assert out.splitlines() == [secret] and secret.startswith("agpt_")
    assert "shown once" in err and secret not in err
    settings = make_settings(autoplat_database_url, tmp_path, jwt_secret="")
    async with (
        running_platform(settings) as (platform, _),
        httpx.AsyncClient(base_url=platform.url, headers={"X-API-Key": secret}) as keyed,
    ):
        me = (await keyed.post("/api/auth/user")).json()
        assert me["id"] == "local"
        assert (await keyed.get("/api/api-keys")).status_code == 200


async def test_serve_without_auth_refuses_a_public_address(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    code, _, err = await _run(env, "serve", "--host", "0.0.0.0", "--port", "0")
    assert code == 2
    assert "without authentication" in err and "AUTOPLAT_JWT_SECRET" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_in_local_mode_explains_how_to_get_a_key(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = _env(autoplat_database_url, tmp_path)
    proc = await asyncio.create_subprocess_exec(
        *AUTOPLAT,
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        seen = ""
        while "X-API-Key" not in seen:
            line = await asyncio.wait_for(proc.stderr.readline(), 30)
            assert line, seen
            seen += line.decode()
        assert "local mode" in seen and "autoplat apikey create" in seen
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            me = await client.post("/api/auth/user")
            assert me.json()["id"] == "local"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
