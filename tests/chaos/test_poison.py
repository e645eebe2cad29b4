"""A value PostgreSQL cannot store, among 100 runs on two servers, touches only its run.

PostgreSQL's ``jsonb`` refuses a NUL character and a lone UTF-16 surrogate. Such a value
arrives either in a run's inputs (echoed by a StoreValue node) or in a block's output (a
web service answering it). Invariant checked: the poisoned run ends FAILED with a
readable error, or COMPLETED with the value sanitized, or (inputs only) its submit alone is
refused with a 4xx; every other run COMPLETES; both servers stay ready and keep working.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chaos.harness import (
    AGENT_INPUT,
    AGENT_OUTPUT,
    WEB_REQUEST,
    Api,
    Servers,
    Tables,
    echo_graph,
    graph,
    link,
    needs_postgres,
    node,
)
from tests.support.recorder import Recorder

pytestmark = needs_postgres

USER = "poison-user"
RUNS = 100
#: Run number -> the unstorable string it carries.
POISON = {37: "nul\x00here", 71: "lone\ud800surrogate"}


def fetch_graph() -> dict[str, Any]:
    """Input ``url`` -> POST it -> output ``y`` (the service's answer)."""
    url, call, out = (
        node(AGENT_INPUT, name="url"),
        node(WEB_REQUEST, method="POST", body={}),
        node(AGENT_OUTPUT, name="y"),
    )
    return graph(
        "fetch",
        [url, call, out],
        [link(url, "result", call, "url"), link(call, "response", out, "value")],
    )


@pytest.mark.parametrize("where", ["inputs", "block-output"])
async def test_an_unstorable_value_fails_only_its_own_run(
    chaos_db: str, servers: Servers, tmp_path: Path, where: str
) -> None:
    tables = Tables(chaos_db)
    # The service answers the poison as JSON escapes, which json.loads turns into the
    # NUL character and the lone surrogate.
    bodies = {f"/poison/{i}": json.dumps({"v": text}).encode() for i, text in POISON.items()}
    with Recorder.running(bodies=bodies) as service:
        pair = [servers.start(n, chaos_db, {"graph_workers": "16"}) for n in ("a", "b")]
        for server in pair:
            await server.ready()
        async with Api(pair[0], USER) as api_a, Api(pair[1], USER) as api_b:
            g = await api_a.create_graph(echo_graph() if where == "inputs" else fetch_graph())

            def inputs(i: int) -> dict[str, Any]:
                if where == "inputs":
                    return {"x": POISON.get(i, f"clean {i}")}
                kind = "poison" if i in POISON else "ok"
                return {"url": f"{service.base_url}/{kind}/{i}"}

            responses = await asyncio.gather(
                *((api_a if i % 2 else api_b).submit(g, inputs(i)) for i in range(RUNS))
            )
            accepted = {
                i: str(r.json()["id"]) for i, r in enumerate(responses) if r.status_code == 200
            }
            refused = {i: r for i, r in enumerate(responses) if r.status_code != 200}
            rows = await tables.wait_terminal(list(accepted.values()), 30, explain=servers.notable)
            # Both still serve: ready, and a fresh run on each completes.
            ready = [(await api.http.get("/ready")).status_code for api in (api_a, api_b)]
            later = [await api.run(g, inputs(1000 + k)) for k, api in enumerate((api_a, api_b))]
            later_rows = await tables.wait_terminal(later, 20, explain=servers.notable)
        hits = service.snapshot()
    logs = servers.notable()

    clean = {i: run_id for i, run_id in accepted.items() if i not in POISON}
    assert len(clean) == RUNS - len(POISON), {i: _brief(r) for i, r in refused.items()}
    statuses = Counter(rows[run_id]["status"] for run_id in clean.values())
    assert statuses == {"COMPLETED": RUNS - len(POISON)}, (statuses, logs)
    assert ready == [200, 200]
    assert {r["status"] for r in later_rows.values()} == {"COMPLETED"}
    assert all(p.poll() is None for p in (pair[0].proc, pair[1].proc))

    for i, text in POISON.items():
        if i in refused:
            # Refused at the boundary: a client error that says why, never a 5xx.
            assert where == "inputs", "a block's output cannot be refused at submit"
            response = refused[i]
            assert 400 <= response.status_code < 500, _brief(response)
            assert "error" in response.json()
            print(f"poison {i} ({where}): refused, {_brief(response)}")
            continue
        row = rows[accepted[i]]
        if where == "block-output":
            assert hits[f"/poison/{i}"] >= 1, "the poison never reached the block"
        print(
            f"poison {i} ({where}): {row['status']}, error={row['error']!r}, "
            f"outputs={row['outputs']!r}"
        )
        if row["status"] == "FAILED":
            assert row["error"], row
        else:
            assert row["status"] == "COMPLETED", row
            assert text not in json.dumps(row["outputs"], ensure_ascii=False), row["outputs"]


def _brief(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:300]}"
