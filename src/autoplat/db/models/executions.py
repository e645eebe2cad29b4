"""Graph executions (runs) and node executions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow


class GraphExecution(Base):
    """One run of a graph version; the claim lease says which process is running it."""

    __tablename__ = "graph_executions"
    __table_args__ = (
        Index("ix_graph_executions_user", "user_id", "created_at"),
        Index("ix_graph_executions_graph", "graph_id", "created_at"),
        # Claims only look at runnable rows; a partial index keeps that scan tiny.
        Index(
            "ix_graph_executions_runnable",
            "created_at",
            postgresql_where=text("status IN ('QUEUED', 'RUNNING')"),
            sqlite_where=text("status IN ('QUEUED', 'RUNNING')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    graph_id: Mapped[str] = mapped_column(String(36))
    graph_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    parent_node_exec_id: Mapped[str | None] = mapped_column(String(36))
    schedule_id: Mapped[str | None] = mapped_column(String(36))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_requested: Mapped[bool] = mapped_column(default=False)
    # How many times a worker claimed the run: 1 means a fresh start, more means a resume.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The credential references (no secrets) the run was started with, for every node
    #: that resolves them, on every process that resumes it.
    credentials_inputs: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )


class NodeExecution(Base):
    """One execution of one node inside a run, with its input, outputs and timings."""

    __tablename__ = "node_executions"
    __table_args__ = (Index("ix_node_executions_run", "graph_exec_id", "node_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    graph_exec_id: Mapped[str] = mapped_column(
        ForeignKey("graph_executions.id", ondelete="CASCADE")
    )
    node_id: Mapped[str] = mapped_column(String(36))
    block_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    input_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    output_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Worker(Base):
    """A process that claims runs: its identity is new at every start and never reused.

    ``instance`` names where it runs (host and port, or the operator's instance name); a
    process that starts adopts the runs of records whose process is gone (their liveness
    lock is free), which is how a restarted server resumes its runs at once.
    """

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_live", "stopped_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
