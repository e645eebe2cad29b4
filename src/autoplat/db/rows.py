"""Typed rows of the execution tables: what crosses the store boundary instead of raw rows.

Every field is a column of its table, in the table's order (a test checks that the field
names equal the columns), so ``from_row`` is one keyword call and nothing past the store
sees a SQLAlchemy ``Row``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self


class _FromRow:
    """``from_row``: build the dataclass from a row, a mapping or a dict of column values."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        """The typed row of a SQLAlchemy ``Row`` (or of a column -> value mapping)."""
        mapping: Mapping[str, Any] = row if isinstance(row, Mapping) else row._mapping
        return cls(**{name: mapping[name] for name in _names(cls) if name in mapping})

    def as_dict(self) -> dict[str, Any]:
        """Column -> value, for inserts."""
        return {name: getattr(self, name) for name in _names(type(self))}


def _names(cls: type) -> tuple[str, ...]:
    cached: tuple[str, ...] | None = cls.__dict__.get("_column_names")
    if cached is None:
        cached = tuple(f.name for f in fields(cls))
        type.__setattr__(cls, "_column_names", cached)
    return cached


@dataclass(slots=True)
class RunRow(_FromRow):
    """One row of ``graph_executions``: a run of a graph version."""

    id: str
    user_id: str
    graph_id: str
    graph_version: int
    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    stats: dict[str, Any]
    error: str | None = None
    parent_node_exec_id: str | None = None
    schedule_id: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    stop_requested: bool = False
    #: How many times the run was claimed: the epoch that fences its writes.
    attempts: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    updated_at: datetime | None = None
    credentials_inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class NodeRow(_FromRow):
    """One row of ``node_executions``: one execution of one node inside a run."""

    id: str
    graph_exec_id: str
    node_id: str
    block_id: str
    status: str
    seq: int
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    error: str | None = None
    stats: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(slots=True)
class WorkerRow(_FromRow):
    """One row of ``workers``: a process that claims runs, and when it stopped."""

    id: str
    instance: str
    pid: int
    started_at: datetime
    stopped_at: datetime | None = None


@dataclass(slots=True)
class NodeWrite:
    """A node row ready to write: its JSON documents already encoded (and storable).

    Encoding once, where the row is made, tells its size (flushes are capped by bytes)
    and leaves no value a database could refuse.
    """

    id: str
    graph_exec_id: str
    node_id: str
    block_id: str
    status: str
    seq: int
    input_data: str
    output_data: str
    error: str | None
    stats: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def size(self) -> int:
        """Roughly the bytes this row sends."""
        return 200 + len(self.input_data) + len(self.output_data) + len(self.stats)


@dataclass(slots=True)
class RunWrite:
    """What a flush changes in a run's row (its status, results and end), encoded."""

    id: str
    status: str
    outputs: str
    stats: str
    error: str | None
    ended_at: datetime | None

    @property
    def size(self) -> int:
        """Roughly the bytes this row sends."""
        return 200 + len(self.outputs) + len(self.stats)
