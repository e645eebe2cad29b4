"""Split brain: a server paused past its lease (SIGSTOP) while another takes its run over
must, once it runs again (SIGCONT), start nothing, charge nothing and write nothing.

The run is a fanout of web-request nodes against a local recorder, with a backlog larger
than the node concurrency, so the paused server holds queued work it could still start.
The recorder holds A's first requests until B is up, so however slow B's start is, A is
paused with most of its fanout still queued.
Invariant checked: each node runs once, except those in flight at the pause: A had begun
to send its request (on a connection the recorder had by then) and its end was not durable,
so the new owner runs it again; each node is charged once; the run's end is written once,
by the new owner, and never touched afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.chaos.harness import (
    WEB_REQUEST,
    Api,
    Servers,
    Tables,
    WsWatch,
    needs_postgres,
    subscribe_run,
    wait_for,
    web_fanout,
)
from tests.support.recorder import Recorder

pytestmark = needs_postgres

USER = "split-user"
ADMIN = "split-admin"
ITEMS = 16
DELAY = 0.5
LEASE = 2.0
GRANT = 1000


async def test_a_server_paused_past_its_lease_runs_charges_and_writes_nothing_twice(
    chaos_db: str, servers: Servers, tmp_path: Path
) -> None:
    tables = Tables(chaos_db)
    priced = {
        "lease_seconds": str(LEASE),
        "node_concurrency": "2",
        "credits_enabled": "true",
        "block_costs": json.dumps({WEB_REQUEST: [{"cost_amount": 1}]}),
        # A's first requests wait at the held recorder while B starts (slow under load).
        "http_timeout": "180",
    }
    with Recorder.running(delay=DELAY, held=True) as recorder:
        a = servers.start("a", chaos_db, priced)
        await a.ready()
        urls = [f"{recorder.base_url}/item/{i}" for i in range(ITEMS)]
        async with Api(a, USER) as api, Api(a, ADMIN, role="admin") as admin:
            graph = await api.create_graph(web_fanout(urls))
            await admin.grant(USER, GRANT)
            run_id = await api.run(graph, {})

        async def held_by_a() -> str | None:
            row = (await tables.runs([run_id])).get(run_id)
            return row["lease_owner"] if row and row["status"] == "RUNNING" else None

        owner_a = await wait_for(held_by_a, 60, "the run started on A")
        # B starts only now, so the run cannot have gone to B first.
        b = servers.start("b", chaos_db, priced)
        await b.ready(120)
        watch = await WsWatch(b.ws_url(USER)).start(subscribe_run(run_id))
        try:
            # Pause A right after one of its requests reached the recorder: that node is
            # in flight (its answer takes DELAY) and the rest of the fanout is queued on A.
            # Until now the recorder held A's requests (at most node_concurrency of them).
            seen = recorder.total()
            assert seen < ITEMS - 4, "A was too far through the fanout before B was up"
            recorder.release()

            async def new_request() -> bool | None:
                return True if recorder.total() > seen else None

            await wait_for(new_request, 60, "a request from A")
            a.pause()
            paused_at = time.monotonic()
            # Every connection to the recorder so far is A's (B holds no run yet). A request
            # A had begun to send may be read after this, so requests are told apart by
            # their connection, not by when the recorder got round to counting them.
            opened_by_a = recorder.connections()
            done_at_pause = {
                n["input_data"].get("url")
                for n in await tables.nodes([run_id])
                if n["status"] == "COMPLETED" and n["block_id"] == WEB_REQUEST
            }
            assert a.is_stopped()

            async def taken_over() -> dict[str, Any] | None:
                row = (await tables.runs([run_id]))[run_id]
                return row if row["lease_owner"] not in (None, owner_a) else None

            takeover = await wait_for(taken_over, LEASE * 4 + 5, "B took the run over")
            # The proof that A was paused past its lease: it still is, and B holds the run.
            assert a.is_stopped()
            paused_for = time.monotonic() - paused_at
            owner_b = takeover["lease_owner"]
            a.resume()

            end = (await tables.wait_terminal([run_id], 30, explain=servers.notable))[run_id]
            first = await _snapshot(tables, run_id, USER)
            # A runs again: give its loops several lease periods to do any damage.
            await asyncio.sleep(LEASE * 1.5)
            second = await _snapshot(tables, run_id, USER)
        finally:
            await watch.close()
        hits = recorder.snapshot()
        sent_by_a = recorder.paths_on(opened_by_a)
    logs = servers.tails()
    in_flight = {path for path in sent_by_a if f"{recorder.base_url}{path}" not in done_at_pause}

    print(
        f"split brain: A paused {paused_for:.2f} s until B took over; in flight at the pause "
        f"{sorted(in_flight)}; hits {dict(hits)}"
    )
    assert paused_for >= 0.5, paused_for
    assert end["status"] == "COMPLETED", (end, logs)
    assert end["lease_owner"] == owner_b, "the run's end was not written by B"
    assert end["attempts"] >= 2
    assert second == first, "rows changed after the run ended (A wrote after it lost the run)"

    nodes = first["nodes"]
    web = [n for n in nodes if n["block_id"] == WEB_REQUEST]
    assert len(nodes) == ITEMS + 1 and len(web) == ITEMS, [n["input_data"] for n in nodes]
    assert sorted(n["input_data"]["url"] for n in web) == sorted(urls)
    assert {n["status"] for n in nodes} == {"COMPLETED"}

    # Charged once per node: the net charge of each node row is 1, the balance says so,
    # and no charge names a node execution that is not in the run.
    net: Counter[str] = Counter()
    for tx in first["ledger"]:
        node_exec = tx["metadata"].get("node_exec_id")
        if node_exec is not None:
            net[node_exec] -= tx["amount"]
    assert set(net) <= {n["id"] for n in web}, "a charge for a node execution not in the run"
    assert all(net[n["id"]] == 1 for n in web), dict(net)
    assert first["balance"] == GRANT - ITEMS

    # The end was announced once (on B's /ws), and only as COMPLETED.
    terminal = [s for s in watch.run_statuses(run_id) if s in ("COMPLETED", "FAILED", "TERMINATED")]
    assert terminal == ["COMPLETED"], terminal

    # Every item ran; only those in flight at the pause may have run twice (A's request,
    # then B's), and nothing ran more than that.
    assert set(hits) == {f"/item/{i}" for i in range(ITEMS)}
    twice = {path for path, n in hits.items() if n > 1}
    assert twice <= in_flight, (
        f"ran twice though not in flight at the pause: {sorted(twice - in_flight)}; "
        f"hits {dict(hits)}; in flight {sorted(in_flight)}"
    )
    assert max(hits.values()) <= 2, dict(hits)


async def _snapshot(tables: Tables, run_id: str, user_id: str) -> dict[str, Any]:
    """Everything the run wrote: its row, its node rows, the user's ledger and balance."""
    run = (await tables.runs([run_id]))[run_id]
    run.pop("lease_expires_at", None)  # a lease may be renewed; nothing else may change
    ledger = await tables.fetch(
        "SELECT id, type, amount, idempotency_key, metadata FROM credit_transactions"
        " WHERE user_id = $1 ORDER BY created_at, id",
        user_id,
    )
    balance = await tables.fetch("SELECT balance FROM user_balances WHERE user_id = $1", user_id)
    return {
        "run": run,
        "nodes": await tables.nodes([run_id]),
        "ledger": ledger,
        "balance": balance[0]["balance"] if balance else None,
    }
