"""Files users uploaded or block runs stored: the records; the bytes live in the blob store.

Invariants: a file belongs to exactly one user and is read only on that user's behalf; its
blob sits under ``storage_key``, a name the server made (never one a user chose), so no
user input reaches a path or an object key. Every file expires (``expires_at``); the expiry
job deletes the blob first and the record after, so a record never outlives a blob it lost
track of, and a crash between the two only leaves a record the next run finishes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import UTCDateTime, utcnow


class StoredFile(Base):
    """One stored file of one user."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_user_id_expires_at", "user_id", "expires_at"),
        Index("ix_files_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    #: The run whose block stored it (None: uploaded through the API).
    graph_exec_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
