"""Graph versions persist, version, activate and delete per user."""

from __future__ import annotations

from autoplat.graphs.model import Graph, Link, Node
from autoplat.platform import Platform


def _graph(name: str = "g") -> Graph:
    a = Node(block_id="1ff065e9-88e8-4358-9d82-8dc91f622ba9", input_default={"input": 1})
    b = Node(block_id="1ff065e9-88e8-4358-9d82-8dc91f622ba9")
    link = Link(source_id=a.id, sink_id=b.id, source_name="output", sink_name="input")
    return Graph(name=name, nodes=[a, b], links=[link])


async def test_versions_and_activation(autoplat_platform: Platform) -> None:
    store = autoplat_platform.db.graphs
    await autoplat_platform.db.users.ensure("u1")
    await autoplat_platform.db.users.ensure("u2")
    first = await store.create_version("u1", _graph())
    assert first.version == 1 and first.is_active
    second = await store.create_version("u1", first.model_copy(update={"name": "g2"}))
    assert second.id == first.id and second.version == 2
    active = await store.get(first.id, user_id="u1")
    assert active is not None and active.version == 2 and active.name == "g2"
    assert active.nodes == first.nodes and active.links == first.links
    assert await store.get(first.id, user_id="u2") is None
    assert await store.set_active(first.id, 1, user_id="u1")
    active = await store.get(first.id)
    assert active is not None and active.version == 1
    assert not await store.set_active(first.id, 1, user_id="u2")
    graphs, total = await store.list_graphs(user_id="u1")
    assert total == 1 and graphs[0].version == 1
    assert [g.version for g in await store.list_versions(first.id, user_id="u1")] == [2, 1]


async def test_foreign_id_gets_a_new_graph(autoplat_platform: Platform) -> None:
    store = autoplat_platform.db.graphs
    await autoplat_platform.db.users.ensure("u1")
    await autoplat_platform.db.users.ensure("u2")
    mine = await store.create_version("u1", _graph())
    theirs = await store.create_version("u2", mine)
    assert theirs.id != mine.id and theirs.version == 1


async def test_delete_removes_all_versions(autoplat_platform: Platform) -> None:
    store = autoplat_platform.db.graphs
    await autoplat_platform.db.users.ensure("u1")
    graph = await store.create_version("u1", _graph())
    await store.create_version("u1", graph)
    assert await store.delete(graph.id, user_id="u2") == 0
    assert await store.delete(graph.id, user_id="u1") == 2
    assert await store.get(graph.id) is None
