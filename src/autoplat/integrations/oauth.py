"""OAuth2 handlers for GitHub, Google and Discord: login URL, code exchange, refresh, revoke.

Invariant: a handler speaks only the standard token-endpoint wire format (RFC 6749 form
posts answered with JSON) and never lets a secret into what it raises or logs: provider
error texts pass through :meth:`OAuthHandler._scrub`, which blanks the client secret and
every code, token and verifier of the exchange. Endpoints are the providers' real ones
unless the operator names a base URL for the provider (``AUTOPLAT_OAUTH_BASE_URLS``, used
by tests and proxies): then every endpoint keeps its path under that base.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from autoplat.errors import OAuthError
from autoplat.integrations.model import OAuth2Credentials
from autoplat.logging import get_logger

log = get_logger("autoplat.integrations.oauth")

#: Tokens that expire within this many seconds are refreshed before use.
REFRESH_MARGIN_SECONDS = 300


class OAuthHandler(ABC):
    """The OAuth2 authorization-code flow of one provider."""

    provider: ClassVar[str]
    default_scopes: ClassVar[tuple[str, ...]] = ()
    #: Whether logins merge ``default_scopes`` into what was asked (Google) or use
    #: them only when nothing was asked.
    merge_default_scopes: ClassVar[bool] = False
    pkce: ClassVar[bool] = True
    scope_separator: ClassVar[str] = " "
    #: name -> (real origin, path); the origin is replaced by an operator's base URL.
    endpoints: ClassVar[dict[str, tuple[str, str]]]
    authorize_extra: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr,
        http: httpx.AsyncClient,
        *,
        base_url: str = "",
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"

    # --- the flow -----------------------------------------------------------------------

    def url(self, name: str) -> str:
        """The endpoint ``name`` (``authorize``, ``token``, ``revoke``, ``user``)."""
        origin, path = self.endpoints[name]
        return f"{self._base_url or origin}{path.format(client_id=self.client_id)}"

    def scopes_for(self, requested: list[str]) -> list[str]:
        """The scopes a login asks for."""
        if self.merge_default_scopes:
            return sorted(set(requested) | set(self.default_scopes))
        return list(requested) or list(self.default_scopes)

    def login_url(
        self, scopes: list[str], state: str, code_challenge: str, redirect_uri: str
    ) -> str:
        """Where to send the user to authorize the platform."""
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": self.scope_separator.join(scopes),
            "state": state,
            **self.authorize_extra,
        }
        if self.pkce:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return f"{self.url('authorize')}?{urlencode(params)}"

    async def exchange_code(
        self, code: str, scopes: list[str], code_verifier: str, redirect_uri: str
    ) -> OAuth2Credentials:
        """Trade the authorization code for tokens (the result's ``id`` is still empty)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.pkce:
            form["code_verifier"] = code_verifier
        data = await self._token_request(form, "code exchange", hide=(code, code_verifier))
        access_token = str(data["access_token"])
        username = await self._username(access_token)
        return self._credentials(data, scopes, username=username)

    async def refresh(self, credentials: OAuth2Credentials) -> OAuth2Credentials:
        """New tokens for ``credentials`` (same id and title); unchanged without a refresh token."""
        if credentials.refresh_token is None:
            return credentials
        old_refresh = credentials.refresh_token.get_secret_value()
        data = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": old_refresh},
            "token refresh",
            hide=(old_refresh, credentials.access_token.get_secret_value()),
        )
        fresh = self._credentials(data, credentials.scopes, username=credentials.username)
        return fresh.model_copy(
            update={
                "id": credentials.id,
                "title": credentials.title,
                "metadata": dict(credentials.metadata),
                # Providers that do not rotate refresh tokens leave it out of the answer.
                "refresh_token": fresh.refresh_token or credentials.refresh_token,
                "refresh_token_expires_at": fresh.refresh_token_expires_at
                or credentials.refresh_token_expires_at,
            }
        )

    async def revoke(self, credentials: OAuth2Credentials) -> bool:
        """Ask the provider to revoke the tokens; False when it refused or was unreachable."""
        token = credentials.access_token.get_secret_value()
        try:
            response = await self._revoke_request(token)
        except httpx.HTTPError as exc:
            log.warning(
                "oauth.revoke_unreachable", provider=self.provider, error=type(exc).__name__
            )
            return False
        if response.is_success:
            return True
        log.warning("oauth.revoke_refused", provider=self.provider, status=response.status_code)
        return False

    @staticmethod
    def needs_refresh(credentials: OAuth2Credentials, now: float | None = None) -> bool:
        """Whether the access token expires within the refresh margin."""
        expires = credentials.access_token_expires_at
        moment = time.time() if now is None else now
        return expires is not None and expires < moment + REFRESH_MARGIN_SECONDS

    # --- provider-specific parts --------------------------------------------------------

    async def _revoke_request(self, token: str) -> httpx.Response:
        return await self._http.post(
            self.url("revoke"),
            data={"token": token, "token_type_hint": "access_token"},
            auth=(self.client_id, self._client_secret.get_secret_value()),
        )

    @abstractmethod
    def _username_from(self, body: Mapping[str, Any]) -> str | None:
        """The account name in the provider's user-info answer."""

    def _split_scopes(self, raw: Any) -> list[str]:
        if isinstance(raw, list):
            return [str(s) for s in raw if s]
        if isinstance(raw, str):
            return [s for s in raw.replace(",", " ").split() if s]
        return []

    # --- plumbing -----------------------------------------------------------------------

    def _scrub(self, text: str, hide: tuple[str, ...]) -> str:
        for secret in (self._client_secret.get_secret_value(), *hide):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    async def _token_request(
        self, form: dict[str, str], what: str, *, hide: tuple[str, ...]
    ) -> dict[str, Any]:
        body = {
            **form,
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        try:
            response = await self._http.post(
                self.url("token"), data=body, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise OAuthError(
                f"{self.provider} {what} failed: the token endpoint is unreachable "
                f"({type(exc).__name__})"
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        # GitHub answers errors with 200 and an ``error`` field; others with a 4xx.
        if not isinstance(data, dict) or "error" in data or not response.is_success:
            reason = f"HTTP {response.status_code}"
            if isinstance(data, dict) and data.get("error"):
                detail = data.get("error_description") or ""
                reason = f"{data['error']}{': ' + str(detail) if detail else ''}"
            raise OAuthError(f"{self.provider} refused the {what}: {self._scrub(reason, hide)}")
        if not data.get("access_token"):
            raise OAuthError(f"{self.provider} {what} answered without an access token")
        return data

    async def _username(self, access_token: str) -> str | None:
        try:
            response = await self._http.get(
                self.url("user"),
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
            if not response.is_success:
                return None
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        name = self._username_from(body) if isinstance(body, dict) else None
        return str(name) if name else None

    def _credentials(
        self, data: Mapping[str, Any], asked: list[str], *, username: str | None
    ) -> OAuth2Credentials:
        now = int(time.time())

        def later(key: str) -> int | None:
            value = data.get(key)
            return now + int(value) if isinstance(value, int | float) and value > 0 else None

        refresh = data.get("refresh_token")
        return OAuth2Credentials(
            id="",
            provider=self.provider,
            username=username,
            access_token=SecretStr(str(data["access_token"])),
            access_token_expires_at=later("expires_in"),
            refresh_token=SecretStr(str(refresh)) if refresh else None,
            refresh_token_expires_at=later("refresh_token_expires_in"),
            # Refresh answers may leave ``scope`` out (or empty): the grant is unchanged.
            scopes=self._split_scopes(data.get("scope")) or list(asked),
        )


class GitHubOAuthHandler(OAuthHandler):
    """GitHub OAuth apps; tokens expire (with a refresh token) only if the app enables it."""

    provider = "github"
    pkce = False
    endpoints = {
        "authorize": ("https://github.com", "/login/oauth/authorize"),
        "token": ("https://github.com", "/login/oauth/access_token"),
        "revoke": ("https://api.github.com", "/applications/{client_id}/token"),
        "user": ("https://api.github.com", "/user"),
    }

    async def _revoke_request(self, token: str) -> httpx.Response:
        return await self._http.request(
            "DELETE",
            self.url("revoke"),
            json={"access_token": token},
            auth=(self.client_id, self._client_secret.get_secret_value()),
            headers={"Accept": "application/vnd.github+json"},
        )

    def _username_from(self, body: Mapping[str, Any]) -> str | None:
        login = body.get("login")
        return str(login) if login else None


class GoogleOAuthHandler(OAuthHandler):
    """Google accounts; offline access so that a refresh token comes with the first grant."""

    provider = "google"
    merge_default_scopes = True
    default_scopes = (
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
        "openid",
    )
    authorize_extra = {
        "access_type": "offline",
        "include_granted_scopes": "true",
        "prompt": "consent",
    }
    endpoints = {
        "authorize": ("https://accounts.google.com", "/o/oauth2/v2/auth"),
        "token": ("https://oauth2.googleapis.com", "/token"),
        "revoke": ("https://oauth2.googleapis.com", "/revoke"),
        "user": ("https://www.googleapis.com", "/oauth2/v2/userinfo"),
    }

    async def _revoke_request(self, token: str) -> httpx.Response:
        # In the form body, not the query string: URLs end up in proxies' and httpx's logs.
        return await self._http.post(self.url("revoke"), data={"token": token})

    def _username_from(self, body: Mapping[str, Any]) -> str | None:
        email = body.get("email")
        return str(email) if email else None


class DiscordOAuthHandler(OAuthHandler):
    """Discord accounts; tokens last about a week and come with a refresh token."""

    provider = "discord"
    default_scopes = ("identify",)
    endpoints = {
        "authorize": ("https://discord.com", "/oauth2/authorize"),
        "token": ("https://discord.com", "/api/oauth2/token"),
        "revoke": ("https://discord.com", "/api/oauth2/token/revoke"),
        "user": ("https://discord.com", "/api/oauth2/@me"),
    }

    def _username_from(self, body: Mapping[str, Any]) -> str | None:
        user = body.get("user")
        name = user.get("username") if isinstance(user, dict) else None
        return str(name) if name else None


#: provider name -> handler class.
OAUTH_HANDLERS: dict[str, type[OAuthHandler]] = {
    h.provider: h for h in (GitHubOAuthHandler, GoogleOAuthHandler, DiscordOAuthHandler)
}
