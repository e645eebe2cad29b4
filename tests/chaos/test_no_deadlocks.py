"""The bench workloads, run at once against two platforms on one PostgreSQL, never deadlock.

Every multi-row write of runs and nodes (claims, lease renewals, flushes, submits) must
take its row locks in one order, or skip locked rows. The PostgreSQL server of the chaos
tests logs every lock wait longer than ``deadlock_timeout`` (100 ms) and every deadlock;
this test first provokes a deadlock on purpose to show that the log check sees one, then
runs chain, fanout, two ``many`` and latency concurrently on two platforms sharing the
queue, beside 128 long chains that keep every worker's lease held and renewed while the
flushes write the same rows (the collision the issue saw during ``make bench``), with fsync
and synchronous commits on, and finds no ``deadlock detected`` in what the server logged.
On ``ac7ba9d`` two runs out of three found one (a flush's fence UPDATE against a lease
renewal).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from bench import workloads

from autoplat.platform import Platform
from autoplat.testing import make_settings
from tests.chaos.harness import PrivatePostgres, asyncpg_dsn, lock_waits, needs_postgres
from tests.support import graphs as tk

# The workloads take 45 s on a loaded two-core machine and more beside other suites: the
# limits below are generous and end as soon as the work is done; the finding (no deadlock,
# every workload succeeded) is what is checked.
pytestmark = [*needs_postgres, pytest.mark.timeout(600)]

LEASE_USER = "lease-user"
LEASE_RUNS = 128
LEASE_CHAIN = 150


@asynccontextmanager
async def platforms(url: str, workdir: Path, count: int) -> AsyncIterator[list[Platform]]:
    """``count`` platforms (each with its HTTP server) on one database, in this loop."""
    async with AsyncExitStack() as stack:
        started = []
        for i in range(count):
            settings = make_settings(url, workdir / f"p{i}", **workloads.BENCH_SETTINGS)
            started.append(await stack.enter_async_context(Platform(settings)))
        yield started


async def hold_many_leases(a: Platform, b: Platform) -> dict[str, Any]:
    """Keep every worker of both platforms busy with long chains: each lease renewal then
    covers 64 runs whose rows the flushes keep writing, the collision the issue saw."""
    saved = await tk.save_graph(a.db, LEASE_USER, tk.chain_graph(LEASE_CHAIN))
    ids = [
        await (a if i % 2 else b).executions.submit(
            user_id=LEASE_USER, graph_id=saved.id, graph_version=saved.version, inputs={"x": i}
        )
        for i in range(LEASE_RUNS)
    ]
    rows = [await tk.wait_for_run(a.db, run_id, timeout=300) for run_id in ids]
    bad = [r.status for r in rows if r.status != "COMPLETED"]
    if bad:
        raise RuntimeError(f"lease-holding runs ended {bad}")
    return {"value": len(rows)}


async def provoke_deadlock(dsn: str) -> None:
    """Two transactions that lock two rows in opposite orders: PostgreSQL kills one."""
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await first.execute("CREATE TABLE chaos_probe (id int PRIMARY KEY, v int)")
        await first.execute("INSERT INTO chaos_probe VALUES (1, 0), (2, 0)")
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        await first.execute("UPDATE chaos_probe SET v = 1 WHERE id = 1")
        await second.execute("UPDATE chaos_probe SET v = 1 WHERE id = 2")
        results = await asyncio.gather(
            first.execute("UPDATE chaos_probe SET v = 2 WHERE id = 2"),
            second.execute("UPDATE chaos_probe SET v = 2 WHERE id = 1"),
            return_exceptions=True,
        )
        assert any(isinstance(r, asyncpg.DeadlockDetectedError) for r in results), results
        for tx in (one, two):
            with suppress(asyncpg.PostgresError):
                await tx.rollback()
        await first.execute("DROP TABLE chaos_probe")
    finally:
        await first.close()
        await second.close()


async def test_the_bench_workloads_at_once_on_two_platforms_never_deadlock(
    chaos_pg: PrivatePostgres, chaos_db: str, tmp_path: Path
) -> None:
    dsn = asyncpg_dsn(chaos_db)
    async with durable(dsn):
        await _run(chaos_pg, chaos_db, dsn, tmp_path)


@asynccontextmanager
async def durable(dsn: str) -> AsyncIterator[None]:
    """fsync and synchronous commits on for the test (as ``make bench`` runs): a commit then
    waits for the disk while holding its row locks, which is when lock orders collide."""
    conn = await asyncpg.connect(dsn)
    try:
        for name in ("fsync", "synchronous_commit"):
            await conn.execute(f"ALTER SYSTEM SET {name} = on")
        await conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.2)  # the reload reaches every backend
        assert await conn.fetchval("SHOW fsync") == "on"
        assert await conn.fetchval("SHOW log_lock_waits") == "on"
        assert await conn.fetchval("SHOW deadlock_timeout") == "100ms"
        yield
    finally:
        for name in ("fsync", "synchronous_commit"):
            await conn.execute(f"ALTER SYSTEM RESET {name}")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.close()


async def _run(chaos_pg: PrivatePostgres, chaos_db: str, dsn: str, tmp_path: Path) -> None:
    mark = chaos_pg.log_size()
    await provoke_deadlock(dsn)
    probe_log = chaos_pg.log_since(mark)
    assert probe_log.count("deadlock detected") == 1, probe_log[-2000:]

    mark = chaos_pg.log_size()
    async with platforms(chaos_db, tmp_path, 2) as (a, b):
        jobs: dict[str, Any] = {
            "leases@a+b": hold_many_leases(a, b),
            "chain@a": workloads.chain(a),
            "many@a": workloads.many(a),
            "fanout@b": workloads.fanout(b),
            "many@b": workloads.many(b),
            "latency@b": workloads.latency(b),
        }
        async with asyncio.timeout(400):
            results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    log = chaos_pg.log_since(mark)
    outcome = dict(zip(jobs, results, strict=True))
    waits = lock_waits(log)
    figures = {
        k: repr(v) if isinstance(v, BaseException) else v["value"] for k, v in outcome.items()
    }
    print("bench at once:", figures)
    print(f"lock waits over 100 ms: {sum(waits.values())}", dict(waits.most_common(10)))

    deadlocks = [line for line in log.splitlines() if "deadlock detected" in line]
    assert not deadlocks, _deadlock_report(log)
    failed = {k: repr(v) for k, v in outcome.items() if isinstance(v, BaseException)}
    assert not failed, failed


def _deadlock_report(log: str) -> str:
    """Each deadlock with the statements PostgreSQL names in its DETAIL lines."""
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if "deadlock detected" in line:
            out.append("\n".join(lines[i : i + 8])[:1500])
    return f"{len(out)} deadlocks:\n" + "\n---\n".join(out[:3])
