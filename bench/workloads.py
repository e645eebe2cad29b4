"""The workloads: chain, fanout, many and latency (issue 5, point 8), the scheduler, and
the big-run figures of issue 10 (``fanout_10k``, ``chain_memory``, see bench/bigruns.py)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from tests.support import graphs as tk

from autoplat.config import Settings
from autoplat.executions.events import Subscription
from autoplat.graphs.model import Graph
from autoplat.logging import configure_logging
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, DatabaseFactory, make_settings, make_token
from bench.bigruns import chain_memory, chain_rss, fanout_10k
from bench.rawhttp import RawConnection
from bench.rawws import RawWebSocket
from bench.scheduler import scheduler_workload
from bench.ui import ui_render

CHAIN_NODES = 1000
FANOUT_ITEMS = 1000
MANY_RUNS = int(os.environ.get("BENCH_MANY_RUNS", "1000"))
LATENCY_RUNS = 300
#: Seconds one latency run may take to be seen COMPLETED: a bound, not a target (beside the
#: other workloads on a loaded machine, as the no-deadlock test runs it, one took over 30 s).
LATENCY_RUN_TIMEOUT = 180.0
CLIENT_CONNECTIONS = 64
#: Settings the workloads run with (besides a fresh database); reported with each figure.
BENCH_SETTINGS: dict[str, Any] = {
    "credits_enabled": False,
    "run_rate_limit": 0,
    "graph_workers": 64,
    "user_max_running": 64,
    "scheduler_enabled": False,
    "log_level": "warning",
}

Workload = Callable[[Platform], Awaitable[dict[str, Any]]]


async def _run_and_wait(platform: Platform, graph: Graph, inputs: dict[str, Any]) -> float:
    saved = await tk.save_graph(platform.db, TEST_USER_ID, graph)
    with platform.executions.bus.subscribe() as sub:
        started = time.perf_counter()
        run_id = await platform.executions.submit(
            user_id=TEST_USER_ID, graph_id=saved.id, graph_version=saved.version, inputs=inputs
        )
        while True:
            event = await sub.get(timeout=120)
            if (
                event.kind == "graph"
                and event.graph_exec_id == run_id
                and event.status
                in (
                    "COMPLETED",
                    "FAILED",
                    "TERMINATED",
                )
            ):
                break
        elapsed = time.perf_counter() - started
    if event.status != "COMPLETED":
        raise RuntimeError(f"benchmark run ended {event.status}: {event.data.get('error')}")
    return elapsed


async def chain(platform: Platform) -> dict[str, Any]:
    """A line of 1000 no-op nodes: milliseconds per node."""
    elapsed = await _run_and_wait(platform, tk.chain_graph(CHAIN_NODES), {"x": 1})
    return {
        "value": round(elapsed * 1000 / CHAIN_NODES, 4),
        "unit": "ms/node",
        "nodes": CHAIN_NODES,
    }


async def fanout(platform: Platform) -> dict[str, Any]:
    """One step-through yields 1000 items, each handled by its own downstream execution."""
    elapsed = await _run_and_wait(platform, tk.fanout_graph(FANOUT_ITEMS), {})
    return {"value": round(elapsed, 4), "unit": "s", "items": FANOUT_ITEMS}


async def many(platform: Platform) -> dict[str, Any]:
    """1000 runs of a 3-node graph submitted at once through the API: runs per second."""
    saved = await tk.save_graph(platform.db, TEST_USER_ID, tk.chain_graph(1))
    path = f"/api/graphs/{saved.id}/execute/{saved.version}"
    headers = {"Authorization": f"Bearer {make_token(TEST_USER_ID)}"}
    connections = [RawConnection(platform.url, headers) for _ in range(CLIENT_CONNECTIONS)]
    pending = list(range(MANY_RUNS))
    ids: list[str] = []
    done: set[str] = set()

    async def submit_on(conn: RawConnection) -> None:
        while pending:
            i = pending.pop()
            status, body = await conn.post_json(path, {"inputs": {"x": i}})
            if status != 200:
                raise RuntimeError(f"submit failed: {status} {body}")
            ids.append(body["id"])

    async def watch(sub: Subscription) -> None:
        while len(done) < MANY_RUNS:
            event = await sub.get(timeout=120)
            if event.kind == "graph" and event.status == "COMPLETED":
                done.add(event.graph_exec_id)

    with platform.executions.bus.subscribe() as sub:
        watcher = asyncio.create_task(watch(sub))
        started = time.perf_counter()
        await asyncio.gather(*(submit_on(c) for c in connections))
        submitted = time.perf_counter() - started
        await watcher
        elapsed = time.perf_counter() - started
    for conn in connections:
        await conn.close()
    return {
        "value": round(MANY_RUNS / elapsed, 1),
        "unit": "runs/s",
        "runs": MANY_RUNS,
        "submit_s": round(submitted, 3),
        "total_s": round(elapsed, 3),
        "client_connections": CLIENT_CONNECTIONS,
    }


async def latency(platform: Platform) -> dict[str, Any]:
    """One-node graph: submit through the API until the client sees COMPLETED on /ws."""
    graph = tk.graph([tk.node(tk.STORE_VALUE, input="ping")], [], "one node")
    saved = await tk.save_graph(platform.db, TEST_USER_ID, graph)
    token = make_token(TEST_USER_ID)
    url = f"/api/graphs/{saved.id}/execute/{saved.version}"
    ws_url = platform.url.replace("http://", "ws://") + f"/ws?token={token}"
    samples: list[float] = []
    client = RawConnection(platform.url, {"Authorization": f"Bearer {token}"})
    ws = await RawWebSocket.connect(ws_url)
    try:
        await ws.send(
            json.dumps({"method": "subscribe_graph_executions", "data": {"graph_id": saved.id}})
        )
        await ws.recv()
        for i in range(LATENCY_RUNS + 20):
            started = time.perf_counter()
            status, body = await client.post_json(url, {})
            if status != 200:
                raise RuntimeError(f"submit failed: {status} {body}")
            run_id = body["id"]
            async with asyncio.timeout(LATENCY_RUN_TIMEOUT):
                while True:
                    message = json.loads(await ws.recv())
                    data = message.get("data") or {}
                    if (
                        message.get("method") == "graph_execution_event"
                        and data.get("id") == run_id
                        and data.get("status") == "COMPLETED"
                    ):
                        break
            if i >= 20:  # the first runs warm caches and connections
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        await ws.close()
    await client.close()
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return {
        "value": round(statistics.median(samples), 3),
        "unit": "ms p50",
        "p99_ms": round(p99, 3),
        "runs": len(samples),
    }


WORKLOADS: dict[str, Workload] = {
    "chain": chain,
    "fanout": fanout,
    "many": many,
    "latency": latency,
    "scheduler": scheduler_workload,
    "fanout_10k": fanout_10k,
}
#: Workloads that start fresh processes of their own (``python -m bench --chain-rss N``)
#: instead of running on a platform in this one.
PROCESS_WORKLOADS: dict[str, Callable[[str], dict[str, Any]]] = {
    "chain_memory": chain_memory,
    "ui": ui_render,  # bench/ui.py: a real server and headless Chromium
}


def run_workload(name: str, database: str, workload: Workload | None = None) -> dict[str, Any]:
    """Run one workload on a fresh database; the JSON-ready result."""
    settings = {k: v for k, v in BENCH_SETTINGS.items() if k != "log_level"}
    if name in PROCESS_WORKLOADS:
        result = PROCESS_WORKLOADS[name](database)
        return {"workload": name, "database": database, **result, "settings": settings}
    workdir = Path(tempfile.mkdtemp(prefix="autoplat-bench-"))
    pg_url = os.environ.get("AUTOPLAT_TEST_PG_URL") if database == "postgresql" else None
    if database == "postgresql" and not pg_url:
        raise SystemExit("bench: --database postgresql needs AUTOPLAT_TEST_PG_URL")
    factory = DatabaseFactory(workdir, pg_url)
    try:
        factory.prepare()
        result = asyncio.run(_measure(workload or WORKLOADS[name], factory, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "workload": name,
        "database": database,
        **result,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "settings": settings,
    }


def run_chain_rss(nodes: int, database: str) -> dict[str, Any]:
    """One chain of ``nodes`` in this (fresh) process: its time and this process's peak RSS."""
    return run_workload("chain_rss", database, partial(chain_rss, nodes=nodes))


async def _measure(workload: Workload, factory: DatabaseFactory, workdir: Path) -> dict[str, Any]:
    url = await factory.create()
    settings: Settings = make_settings(url, workdir, **BENCH_SETTINGS)
    configure_logging(settings)
    try:
        async with Platform(settings) as platform:
            return await workload(platform)
    finally:
        await factory.drop(url)
        if factory.pg_admin_url:
            await factory._pg_admin(f'DROP DATABASE IF EXISTS "{factory.template}"')
