"""Scheduler benchmark: N schedules firing in the same second, and the idle cost of N.

Measures, on a fresh database, with the whole platform running (executor included):

* ``fire``: N schedules due at the same second; lag = run ``created_at`` - fire time, per
  fire (p50/p99/max), plus schedules that did not fire (missed) or fired twice (duplicates).
  Target: p99 under 1 s, no miss, no duplicate, for N = 10,000.
* ``idle``: N schedules that do not fire during the window; the process's CPU time over the
  window as a percentage of one core. Target: under 2 %.

Usage: ``python -m bench.scheduler --database sqlite|postgresql [--database-url URL]
[--schedules N]``; PostgreSQL uses ``--database-url`` or ``AUTOPLAT_TEST_PG_URL`` (a scratch
database is created and dropped). One JSON line per measurement on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from autoplat.config import Settings
from autoplat.db import migrate
from autoplat.db.engine import create_engine
from autoplat.db.models import GraphExecution, Schedule, ScheduleFire
from autoplat.graphs import catalog
from autoplat.graphs.service import GraphService
from autoplat.logging import configure_logging
from autoplat.platform import Platform

USER = "bench-user"
#: Seconds between the platform start and the fire, so that loading is not measured.
LEAD_SECONDS = 6.0


def echo_graph() -> dict[str, Any]:
    """Input x -> Output y."""
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "Bench echo", "nodes": nodes, "links": links}}


def bench_settings(url: str, data_dir: Path) -> Settings:
    """Default settings except quiet logs, no HTTP port in use and credits off."""
    return Settings(
        database_url=url,
        data_dir=data_dir,
        port=0,
        log_level="warning",
        log_format="json",
        credits_enabled=False,
    )


@asynccontextmanager
async def scratch_database(kind: str, pg_url: str | None, workdir: Path) -> AsyncIterator[str]:
    """A fresh, migrated database URL, dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        if not pg_url:
            raise SystemExit("PostgreSQL needs --database-url or AUTOPLAT_TEST_PG_URL")
        import asyncpg

        name = f"autoplat_bench_{uuid.uuid4().hex[:8]}"
        admin = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = make_url(pg_url).set(database=name).render_as_string(False)
    engine = create_engine(bench_settings(url, workdir))
    await migrate.upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        if kind != "sqlite":
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


async def add_schedules(platform: Platform, count: int, cron: str) -> None:
    """``count`` schedules of one graph, inserted in bulk."""
    await platform.db.users.ensure(USER)
    graph = await GraphService(platform.db.graphs, platform.blocks).create(USER, echo_graph())
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "user_id": USER,
            "graph_id": graph.id,
            "graph_version": graph.version,
            "name": f"bench {i}",
            "cron": cron,
            "timezone": "UTC",
            "inputs": {"x": i},
            "status": "ACTIVE",
            "fires_from": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    async with platform.db.begin() as conn:
        for start in range(0, count, 2000):
            await conn.execute(insert(Schedule), rows[start : start + 2000])


async def measure_fire(url: str, workdir: Path, count: int) -> dict[str, Any]:
    """N schedules due in the same second: lag percentiles, misses, duplicates."""
    settings = bench_settings(url, workdir)
    committed: list[float] = []
    async with Platform(settings, serve_http=False) as platform:
        platform.scheduler.batch_listeners.append(lambda batch: committed.extend(batch.lags))
        fire_at = (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
        cron = f"{fire_at.second} {fire_at.minute} {fire_at.hour} * * *"  # daily, UTC
        await add_schedules(platform, count, cron)
        await platform.scheduler._reload_changes()  # what the 1 s reload would do anyway
        deadline = time.monotonic() + LEAD_SECONDS + 60
        fires = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            async with platform.db.begin() as conn:
                fires = (
                    await conn.execute(select(func.count()).select_from(ScheduleFire))
                ).scalar_one()
            if fires >= count and datetime.now(UTC) > fire_at + timedelta(seconds=2):
                break
        async with platform.db.begin() as conn:
            rows = (
                await conn.execute(
                    select(ScheduleFire.fire_time, GraphExecution.created_at).join(
                        GraphExecution, GraphExecution.id == ScheduleFire.graph_exec_id
                    )
                )
            ).all()
            runs_per_schedule = (
                await conn.execute(
                    select(GraphExecution.schedule_id, func.count())
                    .where(GraphExecution.schedule_id.is_not(None))
                    .group_by(GraphExecution.schedule_id)
                )
            ).all()
        counters = dict(platform.scheduler.counters)
    lags = sorted((created - fired).total_seconds() for fired, created in rows)
    committed.sort()
    fired_schedules = len(runs_per_schedule)
    return {
        "bench": "scheduler",
        "measure": "fire",
        "schedules": count,
        "runs": len(lags),
        "missed": count - fired_schedules,
        "duplicates": sum(n - 1 for _, n in runs_per_schedule if n > 1),
        # Lag until the run's transaction committed (what counts), and until its row was made.
        **_percentiles("lag", committed),
        **_percentiles("row_lag", lags),
        "counters": counters,
    }


def _percentiles(name: str, ordered: list[float]) -> dict[str, float | None]:
    if not ordered:
        return {f"p50_{name}_s": None, f"p99_{name}_s": None, f"max_{name}_s": None}
    return {
        f"p50_{name}_s": round(statistics.median(ordered), 4),
        f"p99_{name}_s": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 4),
        f"max_{name}_s": round(ordered[-1], 4),
    }


async def measure_idle(url: str, workdir: Path, count: int, window: float) -> dict[str, Any]:
    """N schedules that do not fire: CPU used by the whole process over ``window`` seconds."""
    settings = bench_settings(url, workdir)
    async with Platform(settings, serve_http=False) as platform:
        await add_schedules(platform, count, "0 0 1 1 *")
        await platform.scheduler._resync()
        await asyncio.sleep(4.0)  # let start-up work (and the reload overlap) settle
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(window)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        timed = platform.scheduler.scheduled_count
    return {
        "bench": "scheduler",
        "measure": "idle",
        "schedules": count,
        "timed": timed,
        "window_s": round(wall, 2),
        "cpu_percent": round(100 * cpu / wall, 3),
    }


async def run(kind: str, pg_url: str | None, count: int, window: float) -> list[dict[str, Any]]:
    """Both measurements on fresh databases of ``kind``."""
    configure_logging(bench_settings("", Path(".")))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with scratch_database(kind, pg_url, workdir) as url:
            results.append({"database": kind, **await measure_fire(url, workdir, count)})
        async with scratch_database(kind, pg_url, workdir) as url:
            results.append({"database": kind, **await measure_idle(url, workdir, count, window)})
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.scheduler", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("AUTOPLAT_TEST_PG_URL"))
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--idle-window", type=float, default=10.0)
    args = parser.parse_args(argv)
    for result in asyncio.run(
        run(args.database, args.database_url, args.schedules, args.idle_window)
    ):
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
