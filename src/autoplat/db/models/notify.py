"""The e-mail side of notifications: the outbox, what is waiting for a batch, per-user state.

Invariant: an e-mail's content is rendered once, when its row is written, so every attempt
sends the same message (same ``Message-ID``); ``notification_keys`` makes a notification
recorded for one event exactly once, whatever the number of processes that saw the event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import UTCDateTime, utcnow


class NotificationKey(Base):
    """The event a notification was recorded for (run id + type...): at most one each."""

    __tablename__ = "notification_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationEmail(Base):
    """One e-mail to send (PENDING), being sent (SENDING) or done (SENT, SKIPPED, FAILED)."""

    __tablename__ = "notification_emails"
    __table_args__ = (
        Index("ix_notification_emails_status", "status", "created_at"),
        Index("ix_notification_emails_user", "user_id", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationDelivery(Base):
    """A notification of a batched type waiting for its user's next batch e-mail."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_user", "user_id", "email_id"),)

    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email_id: Mapped[str | None] = mapped_column(String(36))


class NotificationUserState(Base):
    """Per-user notification state: the unsubscribe token and the ZERO_BALANCE latch."""

    __tablename__ = "notification_user_state"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Set when ZERO_BALANCE was sent; cleared by the next top-up or grant.
    zero_balance_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
