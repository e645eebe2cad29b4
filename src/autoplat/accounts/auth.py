"""Authentication: who is calling, as a Principal, from an API key, a bearer JWT or local mode.

Every credential a request carries must be valid: a bad ``Authorization`` header beside a
good ``X-API-Key`` (or the other way round) is refused (401), never skipped. When both are
valid they must name the same user, and the API key's Principal is used (only the key's
permissions and the ``user`` role). Bearer JWTs are HS256 with ``jwt_secret`` or RS256/ES256
with ``jwt_public_key``, must carry ``sub`` (the user id) and ``exp`` (a token without an
expiry would be valid forever), and ``role: admin`` grants admin. With no credential at all,
local mode (no JWT configured) acts as the local admin user, and otherwise 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from autoplat.accounts.api_keys import ApiKeys
from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.errors import NotAuthenticated, PermissionDenied

#: The user every request acts as in local mode (no auth configured, loopback only).
LOCAL_USER_ID = "local"
_KNOWN_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; ``permissions`` is None when unrestricted (JWT, local)."""

    user_id: str
    role: str = "user"
    permissions: frozenset[str] | None = None
    via: str = "jwt"
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """True for callers with the admin role."""
        return self.role == "admin"

    def can(self, permission: str) -> bool:
        """Whether this caller holds ``permission``."""
        return self.permissions is None or permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless this caller holds ``permission``."""
        if not self.can(permission):
            raise PermissionDenied(f"this credential lacks the {permission} permission")

    def require_admin(self) -> None:
        """Raise PermissionDenied unless this caller is an admin."""
        if not self.is_admin:
            raise PermissionDenied("admin role required")


class Authenticator:
    """Turns request headers into a Principal, creating users on first sight."""

    def __init__(self, settings: Settings, db: DatabaseManager) -> None:
        self.settings = settings
        self.db = db
        self.api_keys = ApiKeys(db)
        self._known: set[tuple[str, str]] = set()

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller of a request with these headers, or NotAuthenticated."""
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        bearer: tuple[str, str, str | None] | None = None
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise NotAuthenticated("Authorization header must be 'Bearer <token>'")
            bearer = self._verify_jwt(token.strip())
        if api_key is not None:
            key = await self.api_keys.authenticate(api_key)
            if bearer is not None and bearer[0] != key.user_id:
                raise NotAuthenticated("the API key and the bearer token name different users")
            return Principal(
                key.user_id, permissions=frozenset(key.permissions), via="api_key", key_id=key.id
            )
        if bearer is not None:
            user_id, role, email = bearer
            await self._ensure(user_id, role, email)
            return Principal(user_id, role=role, via="jwt")
        if not self.settings.auth_configured:
            await self._ensure(LOCAL_USER_ID, "admin", None)
            return Principal(LOCAL_USER_ID, role="admin", via="local")
        raise NotAuthenticated("missing credentials: send a bearer token or an X-API-Key")

    async def ensure_local_user(self) -> None:
        """Create the local-mode user (an admin) if it does not exist yet."""
        await self._ensure(LOCAL_USER_ID, "admin", None)

    def _verify_jwt(self, token: str) -> tuple[str, str, str | None]:
        """(user id, role, email) of a valid token, or NotAuthenticated."""
        if not self.settings.auth_configured:
            raise NotAuthenticated("bearer tokens are not enabled on this server")
        public_key = self.settings.jwt_public_key
        key = public_key or self.settings.jwt_secret.get_secret_value()
        algorithms = ["RS256", "ES256"] if public_key else ["HS256"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience or None,
                options={
                    "require": ["sub", "exp"],
                    "verify_exp": True,
                    "verify_aud": bool(self.settings.jwt_audience),
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            # ValueError/TypeError: a key the crypto backend cannot load, or odd header types.
            raise NotAuthenticated(f"invalid token: {exc}") from None
        user_id = claims["sub"]
        if not isinstance(user_id, str) or not _valid_user_id(user_id):
            raise NotAuthenticated("invalid token: bad 'sub' claim")
        role = "admin" if claims.get("role") == "admin" else "user"
        email = claims.get("email")
        return user_id, role, email if isinstance(email, str) and 0 < len(email) <= 320 else None

    async def _ensure(self, user_id: str, role: str, email: str | None) -> None:
        if (user_id, role) in self._known:
            return
        await self.db.users.ensure(user_id, email=email, role=role)
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()  # a cache, not a registry: re-checking costs one upsert
        self._known.add((user_id, role))


def _valid_user_id(user_id: str) -> bool:
    """Ids are stored in a 64-character column and used in paths: printable, no NUL."""
    return 0 < len(user_id) <= 64 and user_id.isprintable()
