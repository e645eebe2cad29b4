"""Blocks inside runs reach their user's own key-value store: a value persisted by one
run is read back by a later run of the same user, never by another user's."""

from __future__ import annotations

from pathlib import Path

from autoplat.graphs.model import Graph
from tests.support import graphs as tk
from tests.support.graphs import link, node, output_node

PERSIST = "1d055e55-a2b9-4547-8311-907d05b0304d"
RETRIEVE = "d8710fc9-6e29-481e-a7d5-165eb16f8471"


def _reader() -> Graph:
    read = node(RETRIEVE, key="colour", scope="across_agents", default_value="none")
    out = output_node("colour")
    return tk.graph([read, out], [link(read, "value", out, "value")], "reader")


async def test_a_value_persisted_in_one_run_is_read_by_later_runs_of_its_user_only(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    settings = tk.exec_settings(autoplat_database_url, tmp_path)
    async with tk.exec_platform(settings) as platform:
        keep = node(PERSIST, key="colour", value="teal", scope="across_agents")
        row, _ = await tk.run_graph(platform, tk.graph([keep], [], "writer"), user_id="user-a")
        assert row.status == "COMPLETED", row.error
        mine, _ = await tk.run_graph(platform, _reader(), user_id="user-a")
        assert mine.outputs == {"colour": ["teal"]}
        theirs, _ = await tk.run_graph(platform, _reader(), user_id="user-b")
        assert theirs.outputs == {"colour": ["none"]}
