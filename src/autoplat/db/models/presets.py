"""Presets (named inputs for a graph version), webhook triggers and shared runs.

Invariant: each row belongs to one user (``user_id``) and is reached only through that
user's id; a webhook's secret is stored as a SHA-256 digest only; a delivery is unique per
(webhook, delivery id), which is what makes a redelivered webhook start no second run;
a share's token is the only thing a public reader holds, and deleting the row revokes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow


class AgentPreset(Base):
    """A named set of inputs and credentials for one graph version (AutoGPT's preset)."""

    __tablename__ = "agent_presets"
    __table_args__ = (Index("ix_agent_presets_user", "user_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    graph_id: Mapped[str] = mapped_column(String(36))
    graph_version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    credentials: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    webhook_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntegrationWebhook(Base):
    """An ingress URL that starts a preset's graph; its secret is kept as a digest."""

    __tablename__ = "integration_webhooks"
    __table_args__ = (Index("ix_integration_webhooks_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One accepted delivery of a webhook and the run it started."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("integration_webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    graph_exec_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExecutionShare(Base):
    """A finished run its owner shared: the token opens its outputs to anyone."""

    __tablename__ = "execution_shares"

    graph_exec_id: Mapped[str] = mapped_column(
        ForeignKey("graph_executions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
