"""The graph domain model: nodes of blocks joined by links from output pins to input pins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def new_id() -> str:
    """A fresh random UUID as a string."""
    return str(uuid.uuid4())


class Link(BaseModel):
    """An edge from ``source_id.source_name`` (an output selector) to ``sink_id.sink_name``."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_id)
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool = False


class Node(BaseModel):
    """One use of a block in a graph, with constant inputs and UI metadata."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_id)
    block_id: str
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Graph(BaseModel):
    """One version of a graph; ``sub_graphs`` holds graphs its sub-agent nodes reference."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_id)
    version: int = Field(default=1, ge=1)
    is_active: bool = True
    name: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    instructions: str | None = None
    recommended_schedule_cron: str | None = None
    forked_from_id: str | None = None
    forked_from_version: int | None = None
    user_id: str = ""
    created_at: datetime | None = None
    nodes: list[Node] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    sub_graphs: list[Graph] = Field(default_factory=list)

    def node(self, node_id: str) -> Node | None:
        """The node with this id, if any."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None
