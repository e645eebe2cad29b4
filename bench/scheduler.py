"""Scheduler workload: N schedules firing in the same second, and the idle cost of N.

Given a running platform (the harness's, whose own scheduler is off), it starts a Scheduler
on the platform's database and executor and measures:

* ``fire``: N schedules due at the same second. Lag = the run's transaction committed minus
  the fire time, per fire (p50/p99/max; ``row_lag`` is until the rows were stamped), plus
  schedules that did not fire (missed) or fired twice (duplicates). Target for N = 10,000:
  p99 under 1 s, no miss, no duplicate.
* ``idle`` (measured first, on the fresh platform): N schedules that do not fire in the
  window; the process's CPU time over the window as a percentage of one core (the whole
  platform: HTTP server and executor included). Target: under 2 %.

``python -m bench --database sqlite|postgresql --workload scheduler`` runs it in the harness;
``python -m bench.scheduler`` does the same on its own. ``BENCH_SCHEDULES`` sets N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from autoplat.db.models import GraphExecution, Schedule, ScheduleFire
from autoplat.graphs import catalog
from autoplat.graphs.service import GraphService
from autoplat.platform import Platform
from autoplat.scheduler.firing import BatchResult
from autoplat.scheduler.scheduler import Scheduler

USER = "bench-scheduler"
SCHEDULES = int(os.environ.get("BENCH_SCHEDULES", "10000"))
IDLE_WINDOW = float(os.environ.get("BENCH_IDLE_WINDOW", "10"))
#: Seconds between the scheduler's start and the fire, so that loading is not measured.
LEAD_SECONDS = 6.0


def echo_graph() -> dict[str, Any]:
    """Input x -> Output y."""
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "Bench echo", "nodes": nodes, "links": links}}


async def add_schedules(platform: Platform, count: int, cron: str) -> None:
    """Replace every schedule by ``count`` schedules of one graph, inserted in bulk."""
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
        await conn.execute(delete(Schedule))
        for start in range(0, count, 2000):
            await conn.execute(insert(Schedule), rows[start : start + 2000])


def _percentiles(name: str, ordered: list[float]) -> dict[str, float | None]:
    if not ordered:
        return {f"p50_{name}_s": None, f"p99_{name}_s": None, f"max_{name}_s": None}
    return {
        f"p50_{name}_s": round(statistics.median(ordered), 4),
        f"p99_{name}_s": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 4),
        f"max_{name}_s": round(ordered[-1], 4),
    }


async def measure_fire(platform: Platform, count: int) -> dict[str, Any]:
    """N schedules due in the same second: lag percentiles, misses, duplicates."""
    committed: list[float] = []
    fire_at = (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    await add_schedules(platform, count, f"{fire_at.second} {fire_at.minute} {fire_at.hour} * * *")
    scheduler = Scheduler(platform.settings, platform.db, platform.executions)
    all_done = asyncio.Event()

    def on_batch(batch: BatchResult) -> None:
        committed.extend(batch.lags)
        if sum(scheduler.counters.values()) + batch.fired + batch.failed >= count:
            all_done.set()

    scheduler.batch_listeners.append(on_batch)
    await scheduler.start()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_done.wait(), LEAD_SECONDS + 60)
    finally:
        await scheduler.stop(10.0)
    async with platform.db.begin() as conn:
        rows = (
            await conn.execute(
                select(ScheduleFire.fire_time, GraphExecution.created_at).join(
                    GraphExecution, GraphExecution.id == ScheduleFire.graph_exec_id
                )
            )
        ).all()
        per_schedule = (
            await conn.execute(
                select(GraphExecution.schedule_id, func.count())
                .where(GraphExecution.schedule_id.is_not(None))
                .group_by(GraphExecution.schedule_id)
            )
        ).all()
    row_lags = sorted((created - fired).total_seconds() for fired, created in rows)
    committed.sort()
    return {
        "schedules": count,
        "runs": len(row_lags),
        "missed": count - len(per_schedule),
        "duplicates": sum(n - 1 for _, n in per_schedule if n > 1),
        **_percentiles("lag", committed),
        **_percentiles("row_lag", row_lags),
        "counters": dict(scheduler.counters),
    }


async def runs_settled(platform: Platform, timeout: float) -> bool:
    """Wait until no run is queued or running (the fire measurement's runs are done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with platform.db.begin() as conn:
            busy = (
                await conn.execute(
                    select(func.count())
                    .select_from(GraphExecution)
                    .where(GraphExecution.status.in_(("QUEUED", "RUNNING")))
                )
            ).scalar_one()
        if not busy:
            return True
        await asyncio.sleep(0.5)
    return False


async def measure_idle(platform: Platform, count: int, window: float) -> dict[str, Any]:
    """N schedules that do not fire: the process's CPU over ``window`` seconds."""
    settled = await runs_settled(platform, 300)  # no earlier work still running
    await add_schedules(platform, count, "0 0 1 1 *")
    scheduler = Scheduler(platform.settings, platform.db, platform.executions)
    await scheduler.start()
    try:
        await asyncio.sleep(4.0)  # start-up work and the reload overlap settle first
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(window)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        timed = scheduler.scheduled_count
    finally:
        await scheduler.stop(10.0)
    return {
        "schedules": count,
        "timed": timed,
        "earlier_runs_settled": settled,
        "window_s": round(wall, 2),
        "cpu_percent": round(100 * cpu / wall, 3),
    }


async def scheduler_workload(platform: Platform) -> dict[str, Any]:
    """The harness workload: idle CPU with N schedules, then the fire lag of N at once."""
    idle = await measure_idle(platform, SCHEDULES, IDLE_WINDOW)  # first: a truly idle process
    fire = await measure_fire(platform, SCHEDULES)
    return {
        "value": fire["p99_lag_s"],
        "unit": "s p99 fire lag",
        "fire": fire,
        "idle": idle,
        "ok": bool(
            fire["p99_lag_s"] is not None
            and fire["p99_lag_s"] < 1.0
            and fire["missed"] == 0
            and fire["duplicates"] == 0
            and idle["cpu_percent"] < 2.0
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.scheduler --database sqlite|postgresql``."""
    from bench.workloads import run_workload

    parser = argparse.ArgumentParser(prog="python -m bench.scheduler", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    print(json.dumps(run_workload("scheduler", args.database)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
