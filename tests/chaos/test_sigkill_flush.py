"""A server killed with SIGKILL at a random moment of a busy write-behind (many small runs,
a flush always under way): every run still ends COMPLETED exactly once, and no node that
had completed durably runs again.

Each run POSTs to the local recorder, passes the answer through a few StoreValue nodes
(more rows, more flushes) and POSTs again, so a node that runs twice is seen from outside.
After the kill, either the same server restarts on its address (it adopts its runs at
once) or another process takes them over when their leases lapse.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.chaos.harness import (
    WEB_REQUEST,
    Api,
    PrivatePostgres,
    Servers,
    Tables,
    WsWatch,
    needs_postgres,
    subscribe_graph,
    wait_for,
    web_pair,
)
from tests.support.recorder import Recorder

pytestmark = needs_postgres

USER = "kill-user"
RUNS = 240
STORES = 4
NODES_PER_RUN = 4 + STORES  # two inputs, two web requests, the stores
SETTINGS = {"graph_workers": "16", "lease_seconds": "2"}


@pytest.mark.parametrize("after", ["restart", "other-server"])
async def test_sigkill_at_a_random_moment_of_a_busy_flush_ends_every_run_once(
    chaos_pg: PrivatePostgres, chaos_db: str, servers: Servers, tmp_path: Path, after: str
) -> None:
    tables = Tables(chaos_db)
    rng = random.Random()
    with Recorder.running(delay=0.02) as recorder:
        victim = servers.start("victim", chaos_db, SETTINGS)
        await victim.ready()
        base = recorder.base_url
        async with Api(victim, USER) as api:
            graph = await api.create_graph(web_pair(STORES))
            sem = asyncio.Semaphore(8)

            async def submit(i: int) -> str:
                async with sem:
                    return await api.run(graph, {"u0": f"{base}/r/{i}/0", "u1": f"{base}/r/{i}/1"})

            run_ids = list(await asyncio.gather(*(submit(i) for i in range(RUNS))))
        # Kill at a random point of what is left, while flushes are going on.
        left = RUNS * 2 - recorder.total()
        assert left > RUNS // 2, "the server was through most of the work already"
        target = RUNS * 2 - int(left * rng.uniform(0.5, 0.9))

        async def reached() -> bool | None:
            return True if recorder.total() >= target else None

        await wait_for(reached, 30, f"{target} requests", poll=0.005)
        durable = {
            n["input_data"]["url"].removeprefix(base)
            for n in await tables.nodes(run_ids)
            if n["block_id"] == WEB_REQUEST and n["status"] == "COMPLETED"
        }
        pg_mark = chaos_pg.log_size()
        victim.kill()
        at_kill = await tables.runs(run_ids)
        open_at_kill = [r for r, row in at_kill.items() if row["status"] != "COMPLETED"]
        hits_at_kill = recorder.total()

        port = victim.port if after == "restart" else None
        survivor = servers.start("survivor", chaos_db, SETTINGS, port=port)
        await survivor.ready()
        watch = await WsWatch(survivor.ws_url(USER)).start(subscribe_graph(graph[0]))
        try:
            rows = await tables.wait_terminal(run_ids, 40, explain=servers.notable)
            await asyncio.sleep(1.0)  # late duplicate events, if any, arrive now
        finally:
            await watch.close()
        hits = recorder.snapshot()
        nodes = await tables.nodes(run_ids)
    pg_log = chaos_pg.log_since(pg_mark)
    logs = servers.notable()

    resumed = sum(rows[r]["attempts"] >= 2 for r in open_at_kill)
    print(
        f"sigkill ({after}): killed at {hits_at_kill}/{RUNS * 2} requests, "
        f"{len(open_at_kill)} runs open, {resumed} resumed, "
        f"{sum(n > 1 for n in hits.values())} requests made twice"
    )
    # The kill hit a busy process: runs were open and nodes had not run yet.
    assert open_at_kill, "every run had finished before the kill"
    assert hits_at_kill < RUNS * 2
    assert Counter(r["status"] for r in rows.values()) == {"COMPLETED": RUNS}, logs
    assert any(rows[r]["attempts"] >= 2 for r in open_at_kill), "no run was resumed"

    # One row per node of each run, all COMPLETED: nothing re-ran under a new node id.
    per_run = Counter(n["graph_exec_id"] for n in nodes)
    assert set(per_run.values()) == {NODES_PER_RUN}, Counter(per_run.values())
    per_node = Counter((n["graph_exec_id"], n["node_id"]) for n in nodes)
    assert set(per_node.values()) == {1}
    unfinished = [n for n in nodes if n["status"] != "COMPLETED"]
    if unfinished:
        run = unfinished[0]["graph_exec_id"]
        print(f"run {run} ({rows[run]['status']}, attempts {rows[run]['attempts']}):")
        for n in nodes:
            if n["graph_exec_id"] == run:
                print(
                    f"  seq {n['seq']} {n['block_id'][:8]} {n['status']}"
                    f" in={sorted(n['input_data'])} out={sorted(n['output_data'])}"
                )
    assert not unfinished, [
        (n["status"], n["block_id"], sorted(n["input_data"]), rows[n["graph_exec_id"]]["attempts"])
        for n in unfinished
    ]

    # Every request was made; one whose node had completed durably before the kill never
    # again; and only requests in flight or not yet durable at the kill ran twice (at most
    # both of a run's requests, per worker).
    expected = {f"/r/{i}/{k}" for i in range(RUNS) for k in (0, 1)}
    assert set(hits) == expected
    again = {path for path in durable if hits[path] != 1}
    assert not again, f"completed before the kill, ran again: {sorted(again)[:10]}"
    twice = [path for path, n in hits.items() if n > 1]
    assert len(twice) <= 2 * int(SETTINGS["graph_workers"]), (len(twice), twice[:10])

    # Each run's end was announced at most once on the server that finished the work.
    ends = Counter(
        m["data"]["id"]
        for m in watch.messages
        if m.get("method") == "graph_execution_event" and m["data"].get("status") == "COMPLETED"
    )
    assert all(n == 1 for n in ends.values()), [r for r, n in ends.items() if n > 1]
    assert any(r in ends for r in open_at_kill)
    # What PostgreSQL saw of the kill (for the report: a kill mid-statement or mid-
    # transaction shows as a reset connection or an unexpected EOF).
    print("postgres saw:", sorted({_kind(line) for line in pg_log.splitlines() if _kind(line)}))


def _kind(line: str) -> str:
    for kind in ("unexpected EOF", "connection reset", "could not receive data", "broken pipe"):
        if kind.lower() in line.lower():
            return kind
    return ""
