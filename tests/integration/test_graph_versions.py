"""Concurrent saves of one graph each get their own version; exactly one stays active."""

from __future__ import annotations

import asyncio

from autoplat.graphs.model import Graph, Link, Node
from autoplat.platform import Platform

STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"


def _graph(name: str) -> Graph:
    a = Node(block_id=STORE_VALUE, input_default={"input": 1})
    b = Node(block_id=STORE_VALUE)
    link = Link(source_id=a.id, sink_id=b.id, source_name="output", sink_name="input")
    return Graph(name=name, nodes=[a, b], links=[link])


async def test_concurrent_versions_do_not_collide(autoplat_platform: Platform) -> None:
    store = autoplat_platform.db.graphs
    await autoplat_platform.db.users.ensure("u1")
    first = await store.create_version("u1", _graph("v1"))
    saves = [
        store.create_version("u1", _graph(f"v{i}").model_copy(update={"id": first.id}))
        for i in range(2, 7)
    ]
    stored = await asyncio.gather(*saves)
    assert sorted(g.version for g in stored) == [2, 3, 4, 5, 6]
    versions = await store.list_versions(first.id, user_id="u1")
    assert [v.version for v in versions] == [6, 5, 4, 3, 2, 1]
    assert sum(v.is_active for v in versions) == 1
    assert await store.count_versions(first.id, user_id="u1") == 6


async def test_sub_graph_refs_are_recorded(autoplat_platform: Platform) -> None:
    store = autoplat_platform.db.graphs
    await autoplat_platform.db.users.ensure("u1")
    child = await store.create_version("u1", _graph("child"))
    runner = Node(
        block_id="e189baac-8c20-45a1-94a7-55177ea42565",
        input_default={"graph_id": child.id, "graph_version": 1, "user_id": "u1"},
    )
    parent = await store.create_version("u1", Graph(name="parent", nodes=[runner, runner]))
    refs = await store.sub_graph_refs(parent.id, parent.version)
    assert refs == [{"id": child.id, "version": 1}]
    assert await store.sub_graph_refs(parent.id, parent.version, user_id="u2") is None
    assert await store.owner_of(parent.id) == "u1"
    assert await store.owner_of("nope") is None
