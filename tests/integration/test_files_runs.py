"""Files and the key-value store inside graph runs: references flow between nodes, values
outlive a run, and neither crosses users (on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from autoplat.files.refs import parse_reference
from tests.support.graphs import exec_platform, exec_settings, graph, link, node, run_graph

AGENT_FILE_INPUT = "95ead23f-8283-4654-aef3-10c053b74a31"
FILE_READ = "3735a31f-7e18-4aca-9e90-08a7120674bc"
AGENT_OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
PERSIST = "1d055e55-a2b9-4547-8311-907d05b0304d"
RETRIEVE = "d8710fc9-6e29-481e-a7d5-165eb16f8471"


async def test_a_file_input_travels_as_a_reference(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    file_in = node(AGENT_FILE_INPUT, "in", name="doc")
    read = node(FILE_READ, "read")
    ref_out = node(AGENT_OUTPUT, "ref", name="reference")
    text_out = node(AGENT_OUTPUT, "text", name="text")
    g = graph(
        [file_in, read, ref_out, text_out],
        [
            link(file_in, "result", read, "file_input"),
            link(file_in, "result", ref_out, "value"),
            link(read, "content", text_out, "value"),
        ],
    )
    async with exec_platform(exec_settings(autoplat_database_url, tmp_path)) as platform:
        row, nodes = await run_graph(
            platform, g, {"doc": "data:text/plain;base64,aGVsbG8="}, user_id="alice"
        )
        assert row.status == "COMPLETED", [n.error for n in nodes]
        assert row.outputs["text"] == ["hello"]
        [reference] = row.outputs["reference"]
        assert parse_reference(reference) is not None
        # Another user's run given alice's reference finds nothing.
        row, nodes = await run_graph(platform, g, {"doc": reference}, user_id="bob")
        assert row.status == "FAILED"
        assert any("file not found" in (n.error or "") for n in nodes)


async def test_values_persist_across_runs_per_user(
    autoplat_database_url: str, tmp_path: Path
) -> None:
    save = graph([node(PERSIST, "p", key="count", value=3, scope="across_agents")], [])
    load = node(RETRIEVE, "r", key="count", scope="across_agents", default_value="none")
    out = node(AGENT_OUTPUT, "o", name="count")
    fetch = graph([load, out], [link(load, "value", out, "value")])
    async with exec_platform(exec_settings(autoplat_database_url, tmp_path)) as platform:
        row, nodes = await run_graph(platform, save, user_id="alice")
        assert row.status == "COMPLETED", [n.error for n in nodes]
        row, _ = await run_graph(platform, fetch, user_id="alice")
        assert row.outputs == {"count": [3]}
        row, _ = await run_graph(platform, fetch, user_id="bob")
        assert row.outputs == {"count": ["none"]}
