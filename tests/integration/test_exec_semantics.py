"""Execution semantics (blocks.md §1): pins, static links, fan-out, outputs, sub-agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from autoplat.db.models import GraphExecution
from autoplat.graphs.model import Graph
from autoplat.platform import Platform
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node


@pytest.fixture
async def platform(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    async with tk.exec_platform(tk.exec_settings(autoplat_database_url, tmp_path)) as p:
        yield p


def by_node(nodes: list[Any], node_id: str) -> list[Any]:
    return [n for n in nodes if n.node_id == node_id]


async def test_input_to_output_through_a_chain(platform: Platform) -> None:
    row, nodes = await tk.run_graph(platform, tk.chain_graph(3), {"x": 5})
    assert row.status == "COMPLETED"
    assert row.outputs == {"result": [5]}
    assert len(nodes) == 5 and {n.status for n in nodes} == {"COMPLETED"}
    assert row.stats["node_count"] == 5 and row.stats["walltime"] > 0
    for n in nodes:
        assert n.started_at is not None and n.ended_at is not None
        assert "walltime" in n.stats
    store = next(n for n in nodes if n.block_id == tk.STORE_VALUE)
    assert store.input_data["input"] == 5 and store.output_data == {"output": [5]}


async def test_each_yield_starts_its_own_downstream_execution(platform: Platform) -> None:
    step = node(tk.STEP_THROUGH, items=["a", "b", "c"])
    store = node(tk.STORE_VALUE)
    out = output_node("items")
    g = tk.graph(
        [step, store, out],
        [link(step, "item", store, "input"), link(store, "output", out, "value")],
    )
    row, nodes = await tk.run_graph(platform, g)
    assert row.status == "COMPLETED"
    assert sorted(row.outputs["items"]) == ["a", "b", "c"]
    assert len(by_node(nodes, store.id)) == 3
    assert by_node(nodes, step.id)[0].output_data["item"] == ["a", "b", "c"]


async def test_input_pins_are_fifo_queues(platform: Platform) -> None:
    left = node(tk.STEP_THROUGH, items=[1, 2, 3])
    right = node(tk.STEP_THROUGH, items=[10, 20, 30])
    calc = node(tk.CALCULATOR, operation="Add")
    out = output_node("sum")
    g = tk.graph(
        [left, right, calc, out],
        [
            link(left, "item", calc, "a"),
            link(right, "item", calc, "b"),
            link(calc, "result", out, "value"),
        ],
    )
    row, nodes = await tk.run_graph(platform, g)
    assert row.status == "COMPLETED"
    # The n-th value on a pairs with the n-th value on b, however the yields interleave.
    pairs = sorted((n.input_data["a"], n.input_data["b"]) for n in by_node(nodes, calc.id))
    assert pairs == [(1, 10), (2, 20), (3, 30)]
    assert sorted(row.outputs["sum"]) == [11, 22, 33]


async def test_a_linked_pin_waits_even_with_a_default(platform: Platform) -> None:
    silent = node(tk.STEP_THROUGH, items=[])  # nothing to step through: emits nothing
    calc = node(tk.CALCULATOR, operation="Add", a=1, b=100)
    out = output_node("sum")
    g = tk.graph(
        [silent, calc, out], [link(silent, "item", calc, "b"), link(calc, "result", out, "value")]
    )
    row, nodes = await tk.run_graph(platform, g)
    assert row.status == "COMPLETED"
    assert row.outputs == {}
    assert by_node(nodes, calc.id) == []


async def test_static_link_value_serves_every_later_execution(platform: Platform) -> None:
    base = input_node("base")
    step = node(tk.STEP_THROUGH, items=[1, 2, 3])
    calc = node(tk.CALCULATOR, operation="Add")
    out = output_node("sum")
    g = tk.graph(
        [base, step, calc, out],
        [
            link(base, "result", calc, "b"),  # forced static: AgentInput has static output
            link(step, "item", calc, "a"),
            link(calc, "result", out, "value"),
        ],
    )
    row, nodes = await tk.run_graph(platform, g, {"base": 100})
    assert row.status == "COMPLETED"
    assert sorted(row.outputs["sum"]) == [101, 102, 103]
    assert len(by_node(nodes, calc.id)) == 3


async def test_dynamic_pins_build_a_dictionary(platform: Platform) -> None:
    first, second = input_node("first"), input_node("second")
    make = node(tk.CREATE_DICT)
    out = output_node("dict")
    g = tk.graph(
        [first, second, make, out],
        [
            link(first, "result", make, "values_#_x"),
            link(second, "result", make, "values_#_y"),
            link(make, "dictionary", out, "value"),
        ],
    )
    row, _ = await tk.run_graph(platform, g, {"first": 1, "second": "two"})
    assert row.status == "COMPLETED"
    assert row.outputs == {"dict": [{"x": 1, "y": "two"}]}


async def test_output_selector_picks_part_of_a_value(platform: Platform) -> None:
    make = node(tk.CREATE_DICT, values={"inner": 42, "other": 1})
    out = output_node("picked")
    g = tk.graph([make, out], [link(make, "dictionary_#_inner", out, "value")])
    row, _ = await tk.run_graph(platform, g)
    assert row.outputs == {"picked": [42]}


def _child_graph() -> Graph:
    q = input_node("q")
    store = node(tk.STORE_VALUE)
    answer = output_node("answer")
    return tk.graph(
        [q, store, answer],
        [link(q, "result", store, "input"), link(store, "output", answer, "value")],
        "child",
    )


async def test_sub_agent_runs_as_a_child_execution(platform: Platform) -> None:
    child = await tk.save_graph(platform.db, "user-a", _child_graph())
    question = input_node("question")
    agent = node(
        tk.AGENT_EXECUTOR,
        user_id="user-a",
        graph_id=child.id,
        graph_version=child.version,
        inputs={},
        input_schema={"type": "object", "properties": {"q": {}}, "required": ["q"]},
        output_schema={"type": "object", "properties": {"answer": {}}},
    )
    out = output_node("final")
    g = tk.graph(
        [question, agent, out],
        [link(question, "result", agent, "q"), link(agent, "answer", out, "value")],
    )
    row, nodes = await tk.run_graph(platform, g, {"question": "why"})
    assert row.status == "COMPLETED", row.error
    assert row.outputs == {"final": ["why"]}
    agent_exec = by_node(nodes, agent.id)[0]
    runs, _ = await platform.db.executions.list_runs(user_id="user-a", limit=10)
    assert [r.id for r in runs] == [row.id]  # child runs are not listed at the top level
    async with platform.db.begin() as conn:
        child_runs = (
            await conn.execute(
                select(GraphExecution.__table__).where(
                    GraphExecution.parent_node_exec_id == agent_exec.id
                )
            )
        ).all()
    assert len(child_runs) == 1
    assert child_runs[0].status == "COMPLETED" and child_runs[0].outputs == {"answer": ["why"]}
