"""Credentials and OAuth states: the SQL, scoped to the owning user.

Invariant: every read or change of a credential names its user, so another user's id
behaves exactly like a missing one. Secrets arrive here already encrypted. Concurrent
writers are settled in SQL, not in Python: a secret is replaced only over the version that
was read (``WHERE version = :read``), a refresh is claimed by one conditional UPDATE of its
lease, and a state is consumed by one ``DELETE ... RETURNING`` — the same statements on
PostgreSQL (row locks) and SQLite (one writer at a time).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, update

from autoplat.db.models import Credential, OAuthState
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """A stored credential as read (the secret still encrypted)."""

    id: str
    user_id: str
    provider: str
    type: str
    title: str | None
    secret: str
    meta: dict[str, Any]
    version: int
    refresh_lease_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StateRow:
    """A consumed OAuth state (the PKCE verifier still encrypted)."""

    user_id: str
    provider: str
    code_verifier: str
    scopes: list[str]
    expires_at: datetime


def _row(c: Credential) -> CredentialRow:
    return CredentialRow(
        id=c.id,
        user_id=c.user_id,
        provider=c.provider,
        type=c.type,
        title=c.title,
        secret=c.secret,
        meta=dict(c.meta or {}),
        version=c.version,
        refresh_lease_until=c.refresh_lease_until,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


class CredentialStore:
    """Data methods for credentials and OAuth states."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    # --- credentials --------------------------------------------------------------------

    async def create(
        self,
        *,
        user_id: str,
        provider: str,
        type: str,
        title: str | None,
        secret: str,
        meta: dict[str, Any],
    ) -> CredentialRow:
        """Store a new credential (its id is chosen here, never by a client)."""
        now = utcnow()
        row = Credential(
            id=str(uuid.uuid4()),
            user_id=user_id,
            provider=provider,
            type=type,
            title=title,
            secret=secret,
            meta=meta,
            version=1,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session() as session:
            session.add(row)
        return _row(row)

    async def get(self, user_id: str, credential_id: str) -> CredentialRow | None:
        """The user's credential with this id, or None (also for another user's)."""
        stmt = select(Credential).where(
            Credential.id == credential_id, Credential.user_id == user_id
        )
        async with self.db.session() as session:
            found = (await session.execute(stmt)).scalar_one_or_none()
            return _row(found) if found is not None else None

    async def list_for_user(
        self, user_id: str, *, provider: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[CredentialRow], int]:
        """One page of the user's credentials (of one provider), oldest first, and the count."""
        where = [Credential.user_id == user_id]
        if provider is not None:
            where.append(Credential.provider == provider)
        async with self.db.session() as session:
            total = (
                await session.execute(select(func.count()).select_from(Credential).where(*where))
            ).scalar_one()
            if limit <= 0:
                return [], int(total)
            found = (
                await session.execute(
                    select(Credential)
                    .where(*where)
                    .order_by(Credential.created_at, Credential.id)
                    .offset(offset)
                    .limit(limit)
                )
            ).scalars()
            return [_row(c) for c in found], int(total)

    async def delete(self, user_id: str, credential_id: str) -> CredentialRow | None:
        """Remove the user's credential; the removed row (to revoke its tokens), or None."""
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(Credential).where(
                        Credential.id == credential_id, Credential.user_id == user_id
                    )
                )
            ).scalar_one_or_none()
            if found is None:
                return None
            await session.delete(found)
            return _row(found)

    async def replace_secret(
        self,
        credential_id: str,
        *,
        read_version: int,
        secret: str,
        meta: dict[str, Any],
        release_lease: bool = False,
    ) -> bool:
        """Write a new secret over ``read_version`` only; False if someone wrote first."""
        values: dict[str, Any] = {
            "secret": secret,
            "meta": meta,
            "version": read_version + 1,
            "updated_at": utcnow(),
        }
        if release_lease:
            values["refresh_lease_until"] = None
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(Credential)
                .where(Credential.id == credential_id, Credential.version == read_version)
                .values(**values)
            )
            return bool(result.rowcount)

    async def claim_refresh(self, credential_id: str, *, until: datetime) -> bool:
        """Take the refresh lease unless another process holds a live one."""
        now = utcnow()
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(Credential)
                .where(
                    Credential.id == credential_id,
                    or_(
                        Credential.refresh_lease_until.is_(None),
                        Credential.refresh_lease_until < now,
                    ),
                )
                .values(refresh_lease_until=until)
            )
            return bool(result.rowcount)

    async def release_refresh(self, credential_id: str) -> None:
        """Give the refresh lease back (a refresh that failed)."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(Credential)
                .where(Credential.id == credential_id)
                .values(refresh_lease_until=None)
            )

    async def all_rows(self, batch: int = 200) -> AsyncIterator[CredentialRow]:
        """Every credential of every user, in id order, a batch per query (key rotation)."""
        last = ""
        while True:
            async with self.db.session() as session:
                found = list(
                    (
                        await session.execute(
                            select(Credential)
                            .where(Credential.id > last)
                            .order_by(Credential.id)
                            .limit(batch)
                        )
                    ).scalars()
                )
            for c in found:
                yield _row(c)
            if len(found) < batch:
                return
            last = found[-1].id

    # --- OAuth states -------------------------------------------------------------------

    async def add_state(
        self,
        *,
        state_hash: str,
        user_id: str,
        provider: str,
        code_verifier: str,
        scopes: list[str],
        expires_at: datetime,
    ) -> None:
        """Record a login in progress; expired states of every user are dropped meanwhile."""
        now = utcnow()
        async with self.db.session() as session:
            await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
            session.add(
                OAuthState(
                    state_hash=state_hash,
                    user_id=user_id,
                    provider=provider,
                    code_verifier=code_verifier,
                    scopes=scopes,
                    expires_at=expires_at,
                    created_at=now,
                )
            )

    async def take_state(self, user_id: str, state_hash: str, provider: str) -> StateRow | None:
        """Consume the user's live state for ``provider``: the first caller gets it, once."""
        stmt = (
            delete(OAuthState)
            .where(
                OAuthState.state_hash == state_hash,
                OAuthState.user_id == user_id,
                OAuthState.provider == provider,
                OAuthState.expires_at >= utcnow(),
            )
            .returning(
                OAuthState.user_id,
                OAuthState.provider,
                OAuthState.code_verifier,
                OAuthState.scopes,
                OAuthState.expires_at,
            )
        )
        async with self.db.begin() as conn:
            found = (await conn.execute(stmt)).first()
        if found is None:
            return None
        return StateRow(
            user_id=found.user_id,
            provider=found.provider,
            code_verifier=found.code_verifier,
            scopes=list(found.scopes or []),
            expires_at=found.expires_at,
        )
