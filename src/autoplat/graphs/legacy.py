"""Pins that blocks renamed or gave up since an agent was exported, restated on import.

Invariant: after :func:`rename_legacy_pins`, no node's ``input_default`` key and no end of a
link uses a name that :data:`LEGACY_PINS` lists for that node's block: a renamed pin carries
its new name (so the graph validates, and an export uses current names only), and a pin that
became the block's credentials input is gone together with the links into it and its
constant, because it carried the secret itself (AutoGPT's first Discord blocks took the bot
token as a wired ``discord_bot_token``; the user now picks a stored Discord credential). A
name the table does not list is left alone; the functions are pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from autoplat.graphs.model import Link, Node

__all__ = ["LEGACY_PINS", "PinRenames", "rename_legacy_pins"]


@dataclass(frozen=True, slots=True)
class PinRenames:
    """One block's old pin names: the current name, or None for a pin that is gone."""

    inputs: Mapping[str, str | None] = field(default_factory=dict)
    outputs: Mapping[str, str | None] = field(default_factory=dict)


#: The bot token became the block's ``credentials`` (a stored api_key credential).
_TOKEN_IS_A_CREDENTIAL: Final = None

#: block id -> its renamed pins. The 2024 templates (graph_templates/*.json) predate these.
LEGACY_PINS: Final[Mapping[str, PinRenames]] = {
    # ReadDiscordMessagesBlock: the token, and ``continuous_read`` (it reads one message now).
    "df06086a-d5ac-4abb-9996-2ad0acb2eff7": PinRenames(
        inputs={"discord_bot_token": _TOKEN_IS_A_CREDENTIAL, "continuous_read": None}
    ),
    # SendDiscordMessageBlock
    "d0822ab5-9f8a-44a3-8971-531dd0178b6b": PinRenames(
        inputs={"discord_bot_token": _TOKEN_IS_A_CREDENTIAL}
    ),
    # CombineTextsBlock: two text pins, joined in order, are now the items of ``input``.
    "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85": PinRenames(
        inputs={"input1": "input_$_0", "input2": "input_$_1"}
    ),
}

_UNCHANGED: Final = PinRenames()


def _renamed(names: Mapping[str, str | None], name: str) -> str | None:
    return names.get(name, name)


def _node(node: Node) -> Node:
    renames = LEGACY_PINS.get(node.block_id, _UNCHANGED).inputs
    if not any(key in renames for key in node.input_default):
        return node
    defaults = {}
    for key, value in node.input_default.items():
        new = _renamed(renames, key)
        # A constant under the new name wins over one moved onto it.
        if new is not None and (new == key or new not in node.input_default):
            defaults[new] = value
    return node.model_copy(update={"input_default": defaults})


def _link(link: Link, blocks: Mapping[str, str]) -> Link | None:
    source = LEGACY_PINS.get(blocks.get(link.source_id, ""), _UNCHANGED).outputs
    sink = LEGACY_PINS.get(blocks.get(link.sink_id, ""), _UNCHANGED).inputs
    source_name, sink_name = _renamed(source, link.source_name), _renamed(sink, link.sink_name)
    if source_name is None or sink_name is None:
        return None
    if (source_name, sink_name) == (link.source_name, link.sink_name):
        return link
    return link.model_copy(update={"source_name": source_name, "sink_name": sink_name})


def rename_legacy_pins(nodes: list[Node], links: list[Link]) -> tuple[list[Node], list[Link]]:
    """The graph's nodes and links with every legacy pin name of its blocks replaced.

    A link into (or out of) a pin that is gone is dropped; so is a constant for it.
    """
    blocks = {node.id: node.block_id for node in nodes}
    kept = [renamed for link in links if (renamed := _link(link, blocks)) is not None]
    return [_node(node) for node in nodes], kept
