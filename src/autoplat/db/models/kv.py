"""The per-user key-value store of block runs (AutoGPT's AgentNodeExecutionKeyValueData).

Invariant: a row belongs to exactly one user; every read and write names that user, so one
user's keys are never visible to another's runs. The key carries the scope the block chose
(``agent#<graph id>#<key>`` or ``global#<key>``). ``node_exec_id`` records the node
execution that wrote the value last; it is not a foreign key, because retention deletes old
executions while the values they wrote stay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow

#: Longest stored key (the scope prefix included).
KEY_LENGTH = 1024


class ExecutionKeyValue(Base):
    """One value stored by a block run under a user's key."""

    __tablename__ = "execution_kv_data"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    node_exec_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
