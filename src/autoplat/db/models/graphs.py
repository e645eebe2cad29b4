"""Graph versions and library entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow


class GraphVersion(Base):
    """One immutable version of a graph; nodes and links are stored as JSON documents.

    A version is read whole by the executor, so one row per version keeps loading a graph to
    a single indexed read; nodes and links are never queried on their own.
    """

    __tablename__ = "graphs"
    __table_args__ = (Index("ix_graphs_user_id", "user_id", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    is_active: Mapped[bool] = mapped_column(default=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str | None] = mapped_column(Text)
    recommended_schedule_cron: Mapped[str | None] = mapped_column(String(200))
    forked_from_id: Mapped[str | None] = mapped_column(String(36))
    forked_from_version: Mapped[int | None] = mapped_column(Integer)
    nodes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Ids of graphs that sub-agent nodes of this version reference: [{"id":..., "version":...}]
    sub_graph_refs: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LibraryAgent(Base):
    """A graph in a user's library (created when a user creates or imports a graph)."""

    __tablename__ = "library_agents"
    __table_args__ = (Index("ix_library_agents_user_id", "user_id", "graph_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    graph_id: Mapped[str] = mapped_column(String(36))
    graph_version: Mapped[int] = mapped_column(Integer)
    is_archived: Mapped[bool] = mapped_column(default=False)
    is_favorite: Mapped[bool] = mapped_column(default=False, server_default=false())
    # True: graph_version follows the graph's active version; False: it is pinned.
    use_graph_is_active_version: Mapped[bool] = mapped_column(default=True, server_default=true())
    # AutoGPT's GraphSettings (the safe modes of human review); None: the defaults.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
