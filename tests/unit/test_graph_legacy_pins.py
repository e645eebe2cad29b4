"""Legacy pin names are replaced on import: renamed pins get their current names, a pin that
became a credential loses its links and constant, and other names are left alone."""

from __future__ import annotations

from autoplat.graphs.importer import parse_agent_export
from autoplat.graphs.legacy import rename_legacy_pins
from autoplat.graphs.model import Link, Node

COMBINE = "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"
READ_DISCORD = "df06086a-d5ac-4abb-9996-2ad0acb2eff7"
STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"


def test_combine_texts_old_pins_become_items_of_its_input_list() -> None:
    store = Node(id="s", block_id=STORE_VALUE)
    combine = Node(id="c", block_id=COMBINE, input_default={"input2": "!", "delimiter": " "})
    links = [Link(source_id="s", source_name="output", sink_id="c", sink_name="input1")]

    nodes, kept = rename_legacy_pins([store, combine], links)

    assert nodes[1].input_default == {"input_$_1": "!", "delimiter": " "}
    assert [(lk.source_name, lk.sink_name) for lk in kept] == [("output", "input_$_0")]
    assert nodes[0] is store  # a block without legacy pins is untouched


def test_a_constant_under_the_current_name_wins_over_a_legacy_one() -> None:
    combine = Node(block_id=COMBINE, input_default={"input1": "old", "input_$_0": "new"})
    (node,), _ = rename_legacy_pins([combine], [])
    assert node.input_default == {"input_$_0": "new"}


def test_a_wired_discord_token_is_dropped_with_its_constant() -> None:
    store = Node(id="s", block_id=STORE_VALUE, input_default={"input": "the token"})
    reader = Node(id="r", block_id=READ_DISCORD, input_default={"discord_bot_token": "tok"})
    links = [
        Link(source_id="s", source_name="output", sink_id="r", sink_name="discord_bot_token"),
        Link(source_id="r", source_name="username", sink_id="s", sink_name="input"),
    ]

    nodes, kept = rename_legacy_pins([store, reader], links)

    assert nodes[1].input_default == {}
    assert [(lk.source_id, lk.sink_name) for lk in kept] == [("r", "input")]


def test_a_name_on_another_block_is_not_renamed() -> None:
    store = Node(id="s", block_id=STORE_VALUE, input_default={"input1": "x"})
    links = [Link(source_id="s", source_name="output", sink_id="s", sink_name="input1")]
    nodes, kept = rename_legacy_pins([store], links)
    assert nodes[0].input_default == {"input1": "x"} and kept == links


def test_the_importer_applies_the_table_to_an_export() -> None:
    export = {
        "name": "legacy",
        "nodes": [
            {"id": "a", "block_id": STORE_VALUE, "input_default": {"input": "hi"}},
            {"id": "b", "block_id": COMBINE, "input_default": {"input2": " there"}},
        ],
        "links": [
            {"source_id": "a", "sink_id": "b", "source_name": "output", "sink_name": "input1"}
        ],
    }
    graph = parse_agent_export(export)
    assert graph.nodes[1].input_default == {"input_$_1": " there"}
    assert graph.links[0].sink_name == "input_$_0"
