"""Authentication: who is calling, as a Principal, from a bearer JWT (or local mode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.errors import NotAuthenticated, PermissionDenied

#: The user every request acts as in local mode (no auth configured, loopback only).
LOCAL_USER_ID = "local"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; ``permissions`` is None when unrestricted (JWT, local)."""

    user_id: str
    role: str = "user"
    permissions: frozenset[str] | None = None
    via: str = "jwt"

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
        self._known: set[tuple[str, str]] = set()

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller of a request with these headers, or NotAuthenticated."""
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise NotAuthenticated("Authorization header must be 'Bearer <token>'")
            return await self._from_jwt(token.strip())
        if not self.settings.auth_configured:
            await self._ensure(LOCAL_USER_ID, "admin", None)
            return Principal(LOCAL_USER_ID, role="admin", via="local")
        raise NotAuthenticated("missing credentials: send a bearer token")

    async def _from_jwt(self, token: str) -> Principal:
        if not self.settings.auth_configured:
            raise NotAuthenticated("bearer tokens are not enabled on this server")
        key = self.settings.jwt_public_key or self.settings.jwt_secret
        algorithms = ["RS256", "ES256"] if self.settings.jwt_public_key else ["HS256"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience or None,
                options={"require": ["sub"], "verify_aud": bool(self.settings.jwt_audience)},
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"invalid token: {exc}") from None
        user_id = str(claims["sub"])
        if not user_id or len(user_id) > 64:
            raise NotAuthenticated("invalid token: bad 'sub' claim")
        role = "admin" if claims.get("role") == "admin" else "user"
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        await self._ensure(user_id, role, email)
        return Principal(user_id, role=role, via="jwt")

    async def _ensure(self, user_id: str, role: str, email: str | None) -> None:
        if (user_id, role) in self._known:
            return
        await self.db.users.ensure(user_id, email=email, role=role)
        self._known.add((user_id, role))
