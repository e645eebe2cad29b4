"""Figures of big runs (issue 10): a 10,000-item fanout watched over ``/ws``, and the peak
memory of a 10,000-node chain against a 1,000-node one.

A run's memory must grow with its frontier, not with its history, and a client watching
a big run must see its end: these figures show both. The fanout's completion time is read
from the run's row (polled), so a lost terminal event cannot stall the benchmark; the
WebSocket figure is then ``null`` and the line says so. Each chain runs in a fresh process,
so each peak RSS belongs to that chain alone.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from typing import Any

from tests.support import graphs as tk

from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, make_token
from bench.rawws import RawWebSocket

FANOUT_BIG_ITEMS = 10_000
#: Seconds the /ws client may take to see COMPLETED once the run's row says so.
WS_GRACE = 30.0
CHAIN_SIZES = (1_000, 10_000)
#: The issue's target for peak RSS(10,000 nodes) / peak RSS(1,000 nodes).
MEMORY_TARGET = 1.5
TERMINAL = ("COMPLETED", "FAILED", "TERMINATED")


async def fanout_10k(platform: Platform) -> dict[str, Any]:
    """StepThroughItems yields 10,000 items: s to COMPLETED, and until ``/ws`` shows it."""
    saved = await tk.save_graph(platform.db, TEST_USER_ID, tk.fanout_graph(FANOUT_BIG_ITEMS))
    ws_url = platform.url.replace("http://", "ws://") + f"/ws?token={make_token(TEST_USER_ID)}"
    ws = await RawWebSocket.connect(ws_url)
    messages = 0
    notices: dict[str, int] = {}
    try:
        # Subscribed to the graph before the run starts: the client gets every node event,
        # as a builder watching the run would (about 60,000 messages).
        await ws.send(
            json.dumps({"method": "subscribe_graph_executions", "data": {"graph_id": saved.id}})
        )
        await ws.recv()
        started = time.perf_counter()
        run_id = await platform.executions.submit(
            user_id=TEST_USER_ID, graph_id=saved.id, graph_version=saved.version, inputs={}
        )

        async def watch() -> float:
            nonlocal messages
            while True:
                message = json.loads(await ws.recv())
                messages += 1
                method = str(message.get("method"))
                data = message.get("data") or {}
                if method not in ("graph_execution_event", "node_execution_event"):
                    notices[method] = notices.get(method, 0) + 1  # e.g. a lagged notice
                elif (
                    method == "graph_execution_event"
                    and data.get("id") == run_id
                    and data.get("status") in TERMINAL
                ):
                    return time.perf_counter() - started

        watcher = asyncio.create_task(watch())
        row = await tk.wait_for_run(platform.db, run_id, timeout=300)
        completed = time.perf_counter() - started
        if row.status != "COMPLETED":
            raise RuntimeError(f"benchmark run ended {row.status}: {row.error}")
        try:
            ws_seen: float | None = await asyncio.wait_for(watcher, WS_GRACE)
        except TimeoutError:
            ws_seen = None
    finally:
        await ws.close()
    result: dict[str, Any] = {
        "value": round(completed, 4),
        "unit": "s",
        "items": FANOUT_BIG_ITEMS,
        "ws_completed_s": None if ws_seen is None else round(ws_seen, 4),
        "ws_messages": messages,
    }
    if notices:
        result["ws_notices"] = notices
    if ws_seen is None:
        result["ws_error"] = f"no COMPLETED on /ws within {WS_GRACE:g} s of the run's end"
    return result


async def chain_rss(platform: Platform, nodes: int) -> dict[str, Any]:
    """One chain of ``nodes`` StoreValue nodes, submit to COMPLETED (row polled)."""
    saved = await tk.save_graph(platform.db, TEST_USER_ID, tk.chain_graph(nodes))
    # The graph itself (built, stored, compiled) is not the run's: measure the run apart.
    await platform.executions.graph_for(TEST_USER_ID, saved.id, saved.version)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    run_id = await platform.executions.submit(
        user_id=TEST_USER_ID, graph_id=saved.id, graph_version=saved.version, inputs={"x": 1}
    )
    row = await tk.wait_for_run(platform.db, run_id, timeout=600)
    elapsed = time.perf_counter() - started
    if row.status != "COMPLETED":
        raise RuntimeError(f"benchmark run ended {row.status}: {row.error}")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {
        "value": round(elapsed * 1000 / nodes, 4),
        "unit": "ms/node",
        "nodes": nodes,
        "run_growth_mb": round(grown / 1024, 1),
    }


def chain_memory(database: str) -> dict[str, Any]:
    """Peak RSS of each chain size, each in a fresh process, and their ratio."""
    peaks: dict[int, dict[str, Any]] = {}
    for nodes in CHAIN_SIZES:
        command = [sys.executable, "-m", "bench", "--database", database, "--chain-rss", str(nodes)]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"chain of {nodes} failed: {done.stderr[-2000:]}")
        peaks[nodes] = json.loads(done.stdout.strip().splitlines()[-1])
    small, big = (peaks[n]["peak_rss_mb"] for n in CHAIN_SIZES)
    return {
        "value": round(big / small, 3),
        "unit": f"x peak RSS ({CHAIN_SIZES[1]} / {CHAIN_SIZES[0]} nodes)",
        "target": MEMORY_TARGET,
        **{f"peak_rss_mb_{n}": peaks[n]["peak_rss_mb"] for n in CHAIN_SIZES},
        # What the run itself added to the peak, once its graph was loaded and compiled.
        **{f"run_growth_mb_{n}": peaks[n]["run_growth_mb"] for n in CHAIN_SIZES},
        **{f"ms_per_node_{n}": peaks[n]["value"] for n in CHAIN_SIZES},
    }
