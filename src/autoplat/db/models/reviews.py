"""Pending human reviews: a node execution waiting for a person's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow


class PendingReview(Base):
    """One review per node execution: WAITING until approved or rejected, then decided.

    The decision stays with the row, so the node executed again after the run resumes
    (on any process, after any restart) reads it instead of asking again.
    """

    __tablename__ = "pending_reviews"
    __table_args__ = (
        Index("ix_pending_reviews_user", "user_id", "status", "created_at"),
        Index("ix_pending_reviews_run", "graph_exec_id"),
    )

    node_exec_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    graph_exec_id: Mapped[str] = mapped_column(
        ForeignKey("graph_executions.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(64))
    graph_id: Mapped[str] = mapped_column(String(36))
    graph_version: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200), default="")
    editable: Mapped[bool] = mapped_column(default=True)
    payload: Mapped[Any] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="WAITING")
    reviewed_data: Mapped[Any] = mapped_column(JSONType, nullable=True)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
