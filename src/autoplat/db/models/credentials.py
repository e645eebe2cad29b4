"""Users' credentials for third-party providers, and OAuth2 logins in progress.

Invariant: no column holds a secret in the clear. ``secret`` is a Fernet token of the
credential's secret fields (``autoplat.integrations.crypto``); ``meta`` holds only what may
be shown (user name of an OAuth2 account, scopes, host, expiry times). An OAuth state is
stored as the sha256 of the state token the browser carries, with its PKCE verifier
encrypted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from autoplat.db.models.base import Base
from autoplat.db.types import JSONType, UTCDateTime, utcnow


class Credential(Base):
    """One credential of one user (API key, OAuth2 tokens, user/password, host headers)."""

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_user_provider", "user_id", "provider"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: Bumped by every change of ``secret``: a refresh writes only over the version it read.
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: While set and in the future, one process is refreshing the OAuth2 tokens.
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OAuthState(Base):
    """An OAuth2 login started by a user and not finished yet (used once, then deleted)."""

    __tablename__ = "oauth_states"
    __table_args__ = (Index("ix_oauth_states_expires_at", "expires_at"),)

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
