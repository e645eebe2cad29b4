"""PostgreSQL restarted under load: every run still finishes, and the events catch up.

Two servers share 80 runs of web-request nodes; while they run, the database server is
restarted (``pg_ctl restart -m fast`` cuts every connection: the pools', the listeners').
Invariant checked: every run ends COMPLETED, none is lost, and a ``/ws`` client on each
server (one subscribed to each run, the other to the graph) sees the terminal event of
every run, including those the other server ended around the restart (which reach it only
through its LISTEN connection, re-established afterwards, which then re-reads what changed
while it was deaf).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from tests.chaos.harness import (
    Api,
    PrivatePostgres,
    Servers,
    Tables,
    WsWatch,
    needs_postgres,
    subscribe_graph,
    subscribe_run,
    wait_for,
    web_pair,
)
from tests.support.recorder import Recorder

pytestmark = needs_postgres

USER = "restart-user"
RUNS = 80
DELAY = 0.25


async def test_every_run_completes_and_every_event_arrives_across_a_postgres_restart(
    chaos_pg: PrivatePostgres, chaos_db: str, servers: Servers, tmp_path: Path
) -> None:
    tables = Tables(chaos_db)
    settings = {"graph_workers": "8", "lease_seconds": "10"}
    with Recorder.running(delay=DELAY) as recorder:
        pair = [servers.start(name, chaos_db, settings) for name in ("a", "b")]
        for server in pair:
            await server.ready()
        async with Api(pair[0], USER) as api_a, Api(pair[1], USER) as api_b:
            graph = await api_a.create_graph(web_pair())
            # A's client watches each run (subscribed as soon as it is submitted, long before
            # it can end); B's watches the graph. Both must see every run end.
            watches = [
                await WsWatch(pair[0].ws_url(USER)).start(),
                await WsWatch(pair[1].ws_url(USER)).start(subscribe_graph(graph[0])),
            ]
            try:
                base = recorder.base_url

                async def submit(i: int) -> str:
                    api = api_a if i % 2 else api_b
                    urls = {"u0": f"{base}/r/{i}/0", "u1": f"{base}/r/{i}/1"}
                    run_id = await api.run(graph, urls)
                    await watches[0].subscribe(subscribe_run(run_id))
                    return run_id

                run_ids = list(await asyncio.gather(*(submit(i) for i in range(RUNS))))
                await asyncio.sleep(0.5)
                before = await tables.runs(run_ids)
                done_before = sum(r["status"] == "COMPLETED" for r in before.values())
                old_pid = chaos_pg.postmaster_pid()
                await asyncio.to_thread(chaos_pg.restart)
                restarted_at = datetime.now(UTC)
                assert chaos_pg.postmaster_pid() != old_pid, "PostgreSQL did not restart"
                rows = await tables.wait_terminal(run_ids, 60, explain=servers.notable)

                async def all_seen() -> bool | None:
                    return True if all(_saw_completed(w, run_ids) for w in watches) else None

                # The events may trail the rows; missing ones are reported below.
                with suppress(AssertionError):
                    await wait_for(all_seen, 20, "every terminal event on both /ws", poll=0.1)
            finally:
                for watch in watches:
                    await watch.close()
    logs = servers.notable()

    # The restart really happened mid-load: most runs were still going.
    assert done_before < RUNS // 2, done_before
    assert Counter(r["status"] for r in rows.values()) == {"COMPLETED": RUNS}, logs
    after = [r for r in rows.values() if r["ended_at"] > restarted_at]
    owners = Counter(r["lease_owner"] for r in after)
    assert len(owners) == 2, f"both servers must have finished runs after the restart: {owners}"
    assert all(p >= 1 for p in recorder.snapshot().values())
    misses = []
    for name, watch in zip(("a (per run)", "b (per graph)"), watches, strict=True):
        missed = [rows[r] for r in run_ids if "COMPLETED" not in watch.run_statuses(r)]
        when = sorted(round((r["ended_at"] - restarted_at).total_seconds(), 2) for r in missed)
        if missed:
            misses.append(
                f"/ws on {name} never saw COMPLETED for {len(missed)} runs, by owner "
                f"{dict(Counter(r['lease_owner'] for r in missed))}, ended at restart+{when} s"
            )
    assert not misses, "\n".join([*misses, logs])


def _saw_completed(watch: WsWatch, run_ids: list[str]) -> bool:
    return all("COMPLETED" in watch.run_statuses(r) for r in run_ids)
