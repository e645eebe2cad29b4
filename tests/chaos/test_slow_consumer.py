"""A ``/ws`` client that reads nothing while a 10,000-item run goes on still sees its end.

The client subscribes to the graph (so it gets every node event too, about three per
item), then reads nothing until the run is COMPLETED in the database: far more events than
any queue holds are waiting for it by then. Invariant checked: once it reads, it receives
the run's ``graph_execution_event`` with status COMPLETED (after a ``lagged`` notice or
other catching up, as the server chooses), within a bounded time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.rawws import RawWebSocket

from tests.chaos.harness import (
    Api,
    Servers,
    Tables,
    needs_postgres,
    store_fanout,
    subscribe_graph,
)

pytestmark = needs_postgres

USER = "slow-user"
ITEMS = 10_000
#: Seconds without a message after which the end is taken as lost.
IDLE = 8.0
READ_LIMIT = 40.0


async def test_a_websocket_client_that_falls_behind_a_10000_item_run_still_sees_it_complete(
    chaos_db: str, servers: Servers, tmp_path: Path
) -> None:
    tables = Tables(chaos_db)
    server = servers.start("a", chaos_db)
    await server.ready()
    kinds: Counter[str] = Counter()
    seen_completed = False
    async with Api(server, USER) as api:
        graph = await api.create_graph(store_fanout(ITEMS))
        # The lean client reads the socket only when asked (its stream buffer pauses the
        # transport at 64 KB), and a small receive buffer keeps the kernel from absorbing
        # megabytes on loopback: the server's sends back up as they would to a slow browser.
        ws = await RawWebSocket.connect(server.ws_url(USER), rcvbuf=16384)
        try:
            await ws.send(json.dumps(subscribe_graph(graph[0])))
            ack = json.loads(await ws.recv())
            assert ack.get("success") is True, ack
            run_id = await api.run(graph, {})
            row = (await tables.wait_terminal([run_id], 30, explain=servers.notable))[run_id]
            assert row["status"] == "COMPLETED"
            behind_since = time.monotonic()
            # Now read, a little slowly, until the end arrives, or nothing more comes for
            # IDLE seconds (the end was lost), or READ_LIMIT seconds have passed.
            deadline = behind_since + READ_LIMIT
            while not seen_completed and time.monotonic() < deadline:
                try:
                    async with asyncio.timeout(IDLE):
                        message: dict[str, Any] = json.loads(await ws.recv())
                except TimeoutError:
                    break
                kinds[str(message.get("method"))] += 1
                data = message.get("data")
                seen_completed = (
                    message.get("method") == "graph_execution_event"
                    and isinstance(data, dict)
                    and data.get("id") == run_id
                    and data.get("status") == "COMPLETED"
                )
                if sum(kinds.values()) % 500 == 0:
                    await asyncio.sleep(0.01)
            read_for = time.monotonic() - behind_since
        finally:
            await ws.close()
    nodes = await tables.fetch(
        "SELECT count(*) AS n FROM node_executions WHERE graph_exec_id = $1", run_id
    )
    # The run really was big, and the client really was behind: the run had ended before
    # the client read a single event of it.
    assert nodes[0]["n"] == ITEMS + 1
    assert seen_completed, (
        f"no COMPLETED event in {read_for:.1f} s of reading; got {dict(kinds)}\n{servers.notable()}"
    )
    print(f"slow consumer: read {dict(kinds)} in {read_for:.2f} s")
