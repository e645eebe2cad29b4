"""Concurrent spends from two OS processes on one PostgreSQL never overdraw a balance."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autoplat.config import Settings
from autoplat.credits.ledger import TransactionType
from autoplat.db.manager import DatabaseManager
from autoplat.testing import PG_ENV

USER = "race-user"

# Each worker process fires CHARGES concurrent spends of 1 and prints how many succeeded.
WORKER = """
import asyncio, json, sys, time
from pathlib import Path
from autoplat.db.manager import DatabaseManager
from autoplat.errors import InsufficientCredits
from autoplat.testing import make_settings

async def main(url, name, charges, start_at):
    db = DatabaseManager(make_settings(url, Path("."), db_pool_size=10))
    await db.connect()
    await asyncio.sleep(max(0.0, start_at - time.time()))  # both processes start together
    async def one(i):
        try:
            await db.credits.spend("race-user", 1, key=f"{name}-{i}")
        except InsufficientCredits:
            return False
        return True
    try:
        outcomes = await asyncio.gather(*(one(i) for i in range(charges)))
    finally:
        await db.disconnect()
    print(json.dumps({"ok": sum(outcomes)}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


@pytest.fixture
async def db(autoplat_settings: Settings) -> AsyncIterator[DatabaseManager]:
    manager = DatabaseManager(autoplat_settings)
    await manager.connect()
    await manager.users.ensure(USER)
    yield manager
    await manager.disconnect()


async def _run_worker(url: str, name: str, charges: int, start_at: float, cwd: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        url,
        name,
        str(charges),
        str(start_at),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()
    ok: int = json.loads(out.decode().strip().splitlines()[-1])["ok"]
    return ok


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get(PG_ENV), reason="several processes share PostgreSQL only")
async def test_two_processes_charge_exactly_the_balance(
    db: DatabaseManager, autoplat_database_url: str, tmp_path: Path
) -> None:
    await db.credits.deposit(USER, 100, type=TransactionType.GRANT, key="start")
    start_at = time.time() + 3
    results = await asyncio.gather(
        _run_worker(autoplat_database_url, "a", 120, start_at, tmp_path),
        _run_worker(autoplat_database_url, "b", 120, start_at, tmp_path),
    )
    assert sum(results) == 100, results
    assert await db.credits.balance(USER) == 0
    assert await db.credits.ledger_sum(USER) == 0
    usage, total = await db.credits.list_transactions(
        USER, types=[TransactionType.USAGE], limit=250
    )
    assert total == 100
    assert sorted(t.running_balance for t in usage) == list(range(100))
