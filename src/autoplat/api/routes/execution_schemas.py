"""Response models of the execution routes: the shapes ``executions.views`` produces.

They document the routes in OpenAPI and check each answer. Extra keys are kept
(``extra="allow"``), so a field added to a view reaches clients before it is modelled here.
Timestamps are ISO 8601 strings exactly as the views format them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RunQueued(BaseModel):
    """A run accepted for execution."""

    model_config = ConfigDict(extra="allow")

    id: str
    graph_exec_id: str = Field(description="The same id, under AutoGPT's name.")
    status: str


class RunOut(BaseModel):
    """A graph execution (AutoGPT's field names)."""

    model_config = ConfigDict(extra="allow")

    id: str
    graph_exec_id: str
    user_id: str
    graph_id: str
    graph_version: int
    preset_id: str | None = None
    status: str = Field(description="QUEUED, RUNNING, COMPLETED, FAILED or TERMINATED.")
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    stats: dict[str, Any]
    error: str | None = None
    parent_node_exec_id: str | None = None
    schedule_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


class NodeExecutionOut(BaseModel):
    """One node execution: its inputs, outputs, timings and stats."""

    model_config = ConfigDict(extra="allow")

    user_id: str
    graph_id: str
    graph_version: int
    graph_exec_id: str
    node_exec_id: str
    node_id: str
    block_id: str
    status: str
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    error: str | None = None
    stats: dict[str, Any]
    seq: int
    add_time: str | None = None
    queue_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None


class RunDetail(RunOut):
    """A run with every node execution."""

    node_executions: list[NodeExecutionOut]
