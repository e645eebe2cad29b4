"""Refreshing OAuth2 tokens before they expire, one refresh at a time across processes.

Invariant: only the holder of a credential's refresh lease calls the provider's token
endpoint for it. The lease is taken with one conditional UPDATE (``refresh_lease_until``
empty or past), which PostgreSQL settles with its row lock and SQLite with its single
writer; within a process one task per credential asks for it and the others wait for that
task. Whoever does not get the lease re-reads the row until the new tokens are there (or
the lease lapses, and then tries to take it). This matters because providers that rotate
refresh tokens invalidate the old one on use: two refreshes at once would leave one
process with a dead token. A refresh that fails keeps the old tokens while they are still
valid, and is a ``CredentialsRefreshFailed`` once they are not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from autoplat.db.credentials import CredentialRow
from autoplat.db.manager import DatabaseManager
from autoplat.db.types import utcnow
from autoplat.errors import CredentialsNotFound, CredentialsRefreshFailed, OAuthError
from autoplat.integrations import codec
from autoplat.integrations.crypto import SecretBox
from autoplat.integrations.model import OAuth2Credentials
from autoplat.integrations.oauth import OAuthHandler
from autoplat.integrations.providers import ProviderRegistry
from autoplat.logging import get_logger

log = get_logger("autoplat.integrations")

#: Seconds one process may spend refreshing a credential before others may take over.
REFRESH_LEASE_SECONDS = 30.0
#: Seconds between looks at a credential another process is refreshing.
REFRESH_POLL_SECONDS = 0.1


class _KeyedLocks:
    """One asyncio.Lock per key while anyone holds or waits for it (no unbounded growth)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class TokenRefresher:
    """Keeps OAuth2 credentials fresh for :class:`CredentialsService`."""

    def __init__(
        self,
        db: DatabaseManager,
        providers: ProviderRegistry,
        box: Callable[[], SecretBox],
        decrypt: Callable[[CredentialRow], object],
    ) -> None:
        self.db = db
        self.providers = providers
        self._box = box
        self._decrypt = decrypt
        self._local = _KeyedLocks()

    async def fresh(
        self, user_id: str, row: CredentialRow, credentials: OAuth2Credentials
    ) -> OAuth2Credentials:
        """``credentials``, refreshed first if they expire within the refresh margin."""
        handler = self.providers.oauth_handler_if_configured(credentials.provider)
        if (
            handler is None
            or credentials.refresh_token is None
            or not handler.needs_refresh(credentials)
        ):
            return credentials
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * REFRESH_LEASE_SECONDS
        async with self._local.hold(row.id):
            while True:
                current = await self.db.credentials.get(user_id, row.id)
                if current is None:
                    raise CredentialsNotFound(f"credentials {row.id} not found")
                latest = self._decrypt(current)
                assert isinstance(latest, OAuth2Credentials)
                if not handler.needs_refresh(latest):
                    return latest  # refreshed meanwhile, here or by another process
                until = utcnow() + timedelta(seconds=REFRESH_LEASE_SECONDS)
                if await self.db.credentials.claim_refresh(row.id, until=until):
                    return await self._refresh_claimed(handler, current, latest)
                if loop.time() > deadline:
                    return _still_valid_or_fail(latest, "another process is refreshing it")
                await asyncio.sleep(REFRESH_POLL_SECONDS)

    async def _refresh_claimed(
        self, handler: OAuthHandler, row: CredentialRow, credentials: OAuth2Credentials
    ) -> OAuth2Credentials:
        try:
            fresh = await handler.refresh(credentials)
        except OAuthError as exc:
            await self.db.credentials.release_refresh(row.id)
            log.warning("credentials.refresh_failed", credentials_id=row.id, provider=row.provider)
            return _still_valid_or_fail(credentials, exc.message)
        except BaseException:
            await self.db.credentials.release_refresh(row.id)
            raise
        secret, meta = codec.split(fresh)
        version = row.version
        for _ in range(5):
            written = await self.db.credentials.replace_secret(
                row.id,
                read_version=version,
                secret=self._box().encrypt_json(secret),
                meta=meta,
                release_lease=True,
            )
            if written:
                break
            # Only a key rotation writes without the lease: write over what it wrote.
            again = await self.db.credentials.get(row.user_id, row.id)
            if again is None:
                break
            version = again.version
        log.info("credentials.refreshed", credentials_id=row.id, provider=row.provider)
        return fresh


def _still_valid_or_fail(credentials: OAuth2Credentials, reason: str) -> OAuth2Credentials:
    expires = credentials.access_token_expires_at
    if expires is not None and expires > utcnow().timestamp() + 5:
        return credentials  # not expired yet: use it; the next use tries again
    raise CredentialsRefreshFailed(
        f"the {credentials.provider} tokens of credentials {credentials.id} expired and "
        f"could not be refreshed ({reason}); log in with {credentials.provider} again"
    )
