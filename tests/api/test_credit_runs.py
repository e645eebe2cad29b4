"""Credits meet the executor: nodes are charged before they run, a run stops when money does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from autoplat.credits.ledger import TransactionType
from autoplat.errors import InsufficientCredits
from autoplat.graphs import catalog
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, make_settings, running_platform

STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
TERMINAL = {"COMPLETED", "FAILED", "TERMINATED"}


def priced_chain(length: int) -> dict[str, Any]:
    """Input → StoreValue (length times) → Output; each StoreValue costs 1 credit (see settings)."""
    nodes: list[dict[str, Any]] = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}}
    ]
    links: list[dict[str, Any]] = []
    previous, pin = "in", "result"
    for i in range(length):
        nodes.append({"id": f"s{i}", "block_id": STORE_VALUE, "input_default": {}})
        links.append(
            {"source_id": previous, "sink_id": f"s{i}", "source_name": pin, "sink_name": "input"}
        )
        previous, pin = f"s{i}", "output"
    nodes.append({"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}})
    links.append(
        {"source_id": previous, "sink_id": "out", "source_name": pin, "sink_name": "value"}
    )
    graph = {"name": "Priced chain", "description": "costs", "nodes": nodes, "links": links}
    return {"graph": graph, "source": "builder"}


async def finished_run(platform: Platform, run_id: str) -> Any:
    for _ in range(400):
        row = await platform.db.executions.get_run(run_id)
        if row is not None and row.status in TERMINAL:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


@pytest.fixture
async def priced_platform(autoplat_database_url: str, tmp_path: Path) -> Any:
    settings = make_settings(
        autoplat_database_url,
        tmp_path,
        block_costs={STORE_VALUE: [{"cost_amount": 1}]},
        low_balance_threshold=2,
    )
    async with running_platform(settings) as (platform, client):
        yield platform, client


async def test_a_run_that_runs_out_mid_way_fails_on_the_unpaid_node(
    priced_platform: tuple[Platform, Any],
) -> None:
    platform, client = priced_platform
    created = await client.post("/api/graphs", json=priced_chain(5))
    assert created.status_code == 200, created.text
    graph = created.json()
    await platform.credits.add_credits(TEST_USER_ID, 3)
    run_id = await platform.executions.submit(
        user_id=TEST_USER_ID, graph_id=graph["id"], inputs={"x": "hello"}
    )
    run = await finished_run(platform, run_id)
    assert run.status == "FAILED"
    nodes = await platform.db.executions.get_nodes(run_id)
    store_nodes = [n for n in nodes if n.block_id == STORE_VALUE]
    assert [n.status for n in store_nodes] == ["COMPLETED"] * 3 + ["FAILED"]
    unpaid = store_nodes[-1]
    assert unpaid.error is not None and "insufficient credits" in unpaid.error
    assert await platform.credits.balance(TEST_USER_ID) == 0
    assert await platform.db.credits.ledger_sum(TEST_USER_ID) == 0
    usage, total = await platform.db.credits.list_transactions(
        TEST_USER_ID, types=[TransactionType.USAGE]
    )
    assert total == 3
    assert {t.metadata["graph_exec_id"] for t in usage} == {run_id}
    zero, _ = await platform.db.notifications.list_for(TEST_USER_ID, type="ZERO_BALANCE")
    assert len(zero) == 1 and zero[0]["data"]["node_exec_id"] == unpaid.id
    low, _ = await platform.db.notifications.list_for(TEST_USER_ID, type="LOW_BALANCE")
    assert [n["data"]["balance"] for n in low] == [1]
    # With nothing left, the next run is refused up front with 402.
    with pytest.raises(InsufficientCredits):
        await platform.executions.submit(
            user_id=TEST_USER_ID, graph_id=graph["id"], inputs={"x": 1}
        )


async def test_a_paid_run_completes_and_is_charged_per_node(
    priced_platform: tuple[Platform, Any],
) -> None:
    platform, client = priced_platform
    graph = (await client.post("/api/graphs", json=priced_chain(2))).json()
    await platform.credits.add_credits(TEST_USER_ID, 10)
    run_id = await platform.executions.submit(
        user_id=TEST_USER_ID, graph_id=graph["id"], inputs={"x": "hi"}
    )
    run = await finished_run(platform, run_id)
    assert run.status == "COMPLETED"
    assert await platform.credits.balance(TEST_USER_ID) == 8


async def test_running_with_no_credits_is_refused_with_402(
    priced_platform: tuple[Platform, Any],
) -> None:
    platform, client = priced_platform
    graph = (await client.post("/api/graphs", json=priced_chain(1))).json()
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    refused = await client.post(url, json={"inputs": {"x": 1}})
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "insufficient_credits"
    assert (await platform.db.executions.list_runs(user_id=TEST_USER_ID))[1] == 0
    await platform.credits.add_credits(TEST_USER_ID, 1)
    accepted = await client.post(url, json={"inputs": {"x": 1}})
    assert accepted.status_code == 200, accepted.text
    run = await finished_run(platform, accepted.json()["id"])
    assert run.status == "COMPLETED"


async def test_per_second_costs_are_charged_after_the_node_runs(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        autoplat_database_url,
        tmp_path,
        block_costs={STORE_VALUE: [{"cost_amount": 1, "cost_type": "second"}]},
    )
    async with running_platform(settings) as (platform, client):
        graph = (await client.post("/api/graphs", json=priced_chain(2))).json()
        await platform.credits.add_credits(TEST_USER_ID, 10)
        run_id = await platform.executions.submit(
            user_id=TEST_USER_ID, graph_id=graph["id"], inputs={"x": "hi"}
        )
        run = await finished_run(platform, run_id)
        assert run.status == "COMPLETED"
        usage, total = await platform.db.credits.list_transactions(
            TEST_USER_ID, types=[TransactionType.USAGE]
        )
        # Each StoreValue run took a moment: a whole credit each, rounded up.
        assert total == 2
        assert {t.metadata["cost_type"] for t in usage} == {"second"}
        assert await platform.credits.balance(TEST_USER_ID) == 8


async def test_a_single_block_run_is_charged(
    priced_platform: tuple[Platform, Any],
) -> None:
    platform, client = priced_platform
    url = f"/api/blocks/{STORE_VALUE}/execute"
    refused = await client.post(url, json={"input": 1})
    assert refused.status_code == 402, refused.text
    await platform.credits.add_credits(TEST_USER_ID, 1)
    ran = await client.post(url, json={"input": 1})
    assert ran.status_code == 200, ran.text
    assert ran.json() == {"output": [1]}
    assert await platform.credits.balance(TEST_USER_ID) == 0
