"""Migrate on start: a platform brings an empty or older database to the current schema,
concurrent starts migrate once, and a database newer than the code is refused in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from autoplat.db import migrate
from autoplat.db.engine import create_engine
from autoplat.platform import Platform
from autoplat.testing import make_settings


async def _emptied(url: str, tmp_path: Path, revision: str = "base") -> None:
    engine = create_engine(make_settings(url, tmp_path))
    try:
        await migrate.downgrade(engine, revision)
    finally:
        await engine.dispose()


async def _revision(url: str, tmp_path: Path) -> str | None:
    engine = create_engine(make_settings(url, tmp_path))
    try:
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("start_from", ["base", "0002"])
async def test_start_migrates_an_empty_or_older_database(
    autoplat_database_url: str, tmp_path: Path, start_from: str
) -> None:
    await _emptied(autoplat_database_url, tmp_path, start_from)
    async with Platform(make_settings(autoplat_database_url, tmp_path)):
        pass
    assert await _revision(autoplat_database_url, tmp_path) == migrate.head_revision()


async def test_concurrent_starts_migrate_once(autoplat_database_url: str, tmp_path: Path) -> None:
    await _emptied(autoplat_database_url, tmp_path)
    engines = [create_engine(make_settings(autoplat_database_url, tmp_path)) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.migrate_to_head(e) for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    head = migrate.head_revision()
    assert all(after == head for _, after in results)
    # Exactly one found the database empty; the others waited and found it current.
    assert sorted(str(before) for before, _ in results) == sorted(["None", head, head, head])


async def test_a_database_newer_than_the_code_is_refused_in_one_line(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(make_settings(autoplat_database_url, tmp_path))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()
    with pytest.raises(migrate.SchemaTooNew, match="newer than this autoplat"):
        async with Platform(make_settings(autoplat_database_url, tmp_path)):
            pass
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPLAT_")}
    env.update(AUTOPLAT_DATABASE_URL=autoplat_database_url, AUTOPLAT_DATA_DIR=str(tmp_path))
    for command in (["serve", "--port", "0"], ["migrate"], ["users", "list"]):
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "autoplat", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 2, (command, result.stderr)
        # serve logs its start (JSON lines here); the refusal itself is one line.
        said = [line for line in result.stderr.splitlines() if line.startswith("autoplat:")]
        assert len(said) == 1 and "revision 9999, newer than this autoplat" in said[0], said
        assert "Traceback" not in result.stderr
        if command[0] != "serve":
            assert result.stderr.strip() == said[0]
    assert await _revision(autoplat_database_url, tmp_path) == "9999"  # never touched
