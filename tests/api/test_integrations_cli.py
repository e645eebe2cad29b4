"""``autoplat credentials`` as real subprocesses: add (secret from stdin), list, delete,
rotate to a new key; and ``serve`` with auth but no encryption key refuses to start."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.integrations.crypto import generate_key
from autoplat.integrations.service import CredentialsService
from autoplat.testing import TEST_ENCRYPTION_KEY, TEST_JWT_SECRET


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(
        AUTOPLAT_DATABASE_URL=database_url,
        AUTOPLAT_DATA_DIR=str(tmp_path),
        AUTOPLAT_JWT_SECRET=TEST_JWT_SECRET,
        AUTOPLAT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        AUTOPLAT_LOG_FORMAT="json",
        AUTOPLAT_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


async def _run(env: dict[str, str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "autoplat",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_credentials_are_added_from_stdin_listed_rotated_and_deleted(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path)
    code, out, err = await _run(
        env,
        "credentials",
        "add",
        "anthropic",
        "--user",
        "alice",
        "--title",
        "cli",
        stdin="sk-cli-1\n",
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["provider"] == "anthropic" and added["title"] == "cli" and "sk-cli-1" not in out
    code, out, err = await _run(
        env, "credentials", "add", "smtp", "--user", "alice", "--type", "user_password",
        "--username", "mailer", stdin="pw-cli-2\n",
    )  # fmt: skip
    assert code == 0, err

    code, out, _ = await _run(env, "credentials", "list", "--user", "alice", "--json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert {c["provider"] for c in listed} == {"anthropic", "smtp"}
    assert "sk-cli-1" not in out and "pw-cli-2" not in out and "mailer" not in out

    # Rotation: a new key first, the old one after it; then the old key can go.
    new_key = generate_key()
    both = _env(
        autoplat_database_url, tmp_path, AUTOPLAT_ENCRYPTION_KEY=f"{new_key},{TEST_ENCRYPTION_KEY}"
    )
    code, out, err = await _run(both, "credentials", "rotate")
    assert code == 0, err
    assert json.loads(out) == {"rotated": 2}
    settings = Settings(
        database_url=autoplat_database_url, jwt_secret=TEST_JWT_SECRET, encryption_key=new_key
    )
    db = DatabaseManager(settings)
    await db.connect()
    try:
        service = CredentialsService(settings, db)
        key = await service.resolve("alice", added["id"])
        assert key.api_key.get_secret_value() == "sk-cli-1"  # type: ignore[union-attr]
        await service.aclose()
    finally:
        await db.disconnect()

    new_env = _env(autoplat_database_url, tmp_path, AUTOPLAT_ENCRYPTION_KEY=new_key)
    code, out, err = await _run(new_env, "credentials", "delete", added["id"], "--user", "alice")
    assert code == 0, err
    assert json.loads(out)["deleted"] is True
    code, _, err = await _run(new_env, "credentials", "delete", added["id"], "--user", "alice")
    assert code == 1 and "not found" in err
    code, _, err = await _run(env, "credentials", "add", "nope", "--user", "alice", stdin="k\n")
    assert code == 1 and "unknown provider" in err


async def test_serve_with_auth_but_no_encryption_key_stops_with_one_line(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    env = _env(autoplat_database_url, tmp_path, AUTOPLAT_ENCRYPTION_KEY="", AUTOPLAT_PORT="0")
    code, out, err = await _run(env, "serve")
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("autoplat:")]
    assert len(lines) == 1 and "AUTOPLAT_ENCRYPTION_KEY is required" in lines[0]
    code, out, _ = await _run(env, "credentials", "generate-key")
    assert code == 0 and len(out.strip()) == 44
