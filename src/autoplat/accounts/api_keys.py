"""API keys: minted once, stored as a salted scrypt hash, checked on every request.

A key looks like ``agpt_<43 url-safe characters>``. Its first 16 characters (the
``prefix``) find the row; the scrypt hash proves the rest. scrypt is deliberately slow
(~tens of ms), so it runs in a worker thread, and a successful check is remembered (by a
SHA-256 of the secret, bound to the stored hash) so that a busy key costs one cheap row
lookup per request. The row is still read every time: revoking or suspending a key, or
changing its permissions, takes effect on the next request in every process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from autoplat.db.manager import DatabaseManager
from autoplat.db.models import ApiKey
from autoplat.db.types import utcnow
from autoplat.errors import ApiKeyNotFound, Conflict, NotAuthenticated

KEY_PREFIX = "agpt_"
_PREFIX_LENGTH = 16
_SECRET_BYTES = 32
_KEY_LENGTH = len(KEY_PREFIX) + 43
# Interactive-login strength: about 16 MiB and a few tens of milliseconds per check.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 64}
_TOUCH_EVERY_SECONDS = 60.0
_CACHE_LIMIT = 10_000

ACTIVE, SUSPENDED, REVOKED = "ACTIVE", "SUSPENDED", "REVOKED"


def hash_secret(secret: str, salt: str) -> str:
    """The hex scrypt hash of ``secret`` with ``salt``."""
    return hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


@dataclass(frozen=True)
class MintedKey:
    """A new key: ``secret`` is shown to the user once and never stored."""

    key: ApiKey
    secret: str


class ApiKeys:
    """Creates, authenticates and changes API keys on top of the api-key store."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
        self._verified: dict[str, tuple[str, str]] = {}
        self._touched: dict[str, float] = {}

    async def create(
        self,
        user_id: str,
        name: str,
        permissions: list[str],
        description: str | None = None,
    ) -> MintedKey:
        """Mint a key for ``user_id`` (who must exist) with these permissions."""
        secret = KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        salt = secrets.token_hex(16)
        digest = await asyncio.to_thread(hash_secret, secret, salt)
        key = await self.db.api_keys.create(
            user_id=user_id,
            name=name,
            prefix=secret[:_PREFIX_LENGTH],
            head=secret[: len(KEY_PREFIX) + 4],
            tail=secret[-4:],
            hash=digest,
            salt=salt,
            permissions=sorted(set(permissions)),
            description=description,
        )
        return MintedKey(key, secret)

    async def authenticate(self, secret: str) -> ApiKey:
        """The ACTIVE key matching ``secret``; NotAuthenticated otherwise."""
        secret = secret.strip()
        if not secret.startswith(KEY_PREFIX) or len(secret) != _KEY_LENGTH:
            raise NotAuthenticated("invalid API key")
        key = await self.db.api_keys.by_prefix(secret[:_PREFIX_LENGTH])
        if key is None or not await self._matches(secret, key):
            raise NotAuthenticated("invalid API key")
        if key.status != ACTIVE:
            raise NotAuthenticated(f"this API key is {key.status.lower()}")
        await self._touch(key.id)
        return key

    async def get(self, user_id: str, key_id: str) -> ApiKey:
        """The user's key; 404 for unknown ids and for other users' keys alike."""
        key = await self.db.api_keys.get(user_id, key_id)
        if key is None:
            raise ApiKeyNotFound(f"API key {key_id!r} not found")
        return key

    async def revoke(self, user_id: str, key_id: str) -> ApiKey:
        """Revoke the key for good (revoking twice is harmless)."""
        await self.get(user_id, key_id)
        key = await self.db.api_keys.set_status(user_id, key_id, REVOKED)
        return _found(key, key_id)

    async def suspend(self, user_id: str, key_id: str) -> ApiKey:
        """Suspend an active key; 409 for a revoked one."""
        current = await self.get(user_id, key_id)
        if current.status == REVOKED:
            raise Conflict("a revoked API key cannot be suspended")
        key = await self.db.api_keys.set_status(user_id, key_id, SUSPENDED)
        return _found(key, key_id)

    async def set_permissions(self, user_id: str, key_id: str, permissions: list[str]) -> ApiKey:
        """Replace the key's permissions; 409 for a revoked key."""
        current = await self.get(user_id, key_id)
        if current.status == REVOKED:
            raise Conflict("a revoked API key cannot be changed")
        key = await self.db.api_keys.set_permissions(user_id, key_id, sorted(set(permissions)))
        return _found(key, key_id)

    async def _matches(self, secret: str, key: ApiKey) -> bool:
        fingerprint = hashlib.sha256(secret.encode()).hexdigest()
        if self._verified.get(fingerprint) == (key.id, key.hash):
            return True
        digest = await asyncio.to_thread(hash_secret, secret, key.salt)
        if not hmac.compare_digest(digest, key.hash):
            return False
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[fingerprint] = (key.id, key.hash)
        return True

    async def _touch(self, key_id: str) -> None:
        # last_used_at is informative: one write a minute per key is plenty.
        now = time.monotonic()
        if now - self._touched.get(key_id, float("-inf")) < _TOUCH_EVERY_SECONDS:
            return
        if len(self._touched) >= _CACHE_LIMIT:
            self._touched.clear()
        self._touched[key_id] = now
        when: datetime = utcnow()
        await self.db.api_keys.touch(key_id, when)


def _found(key: ApiKey | None, key_id: str) -> ApiKey:
    if key is None:
        raise ApiKeyNotFound(f"API key {key_id!r} not found")
    return key
