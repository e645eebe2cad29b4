"""Cron schedules of graph runs and the record of each fire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow


class Schedule(Base):
    """A cron schedule that runs a graph version with fixed inputs, or a preset's."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_user", "user_id"),
        Index("ix_schedules_graph", "graph_id"),
        # Schedulers reload what changed since their last look; this keeps that query cheap.
        Index("ix_schedules_updated", "updated_at"),
        Index("ix_schedules_preset", "preset_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    graph_id: Mapped[str] = mapped_column(String(36))
    graph_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # A preset whose current inputs and credentials each fire reads (``inputs`` and
    # ``credentials_inputs`` override them). Deleting the preset pauses the schedule first,
    # keeping a copy of its inputs.
    preset_id: Mapped[str | None] = mapped_column(
        ForeignKey("agent_presets.id", ondelete="SET NULL")
    )
    #: The schedule's own credential references (never secrets): every fire runs with
    #: these over the preset's, field by field (the schedule's win).
    credentials_inputs: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Only fires after this are owed (set on create and resume); after downtime, fires after
    # max(this, the last recorded fire) are caught up.
    fires_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleFire(Base):
    """One fire of a schedule; the (schedule, fire time) primary key makes it happen once."""

    __tablename__ = "schedule_fires"
    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    fire_time: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    graph_exec_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
