"""A stand-in OAuth2 provider for tests: authorize, token, user info and revoke endpoints.

It serves the paths of GitHub, Google and Discord at once (so one server stands in for any
of them through ``AUTOPLAT_OAUTH_BASE_URLS``) and speaks the documented wire format: the
authorize endpoint redirects to ``redirect_uri`` with ``code`` and ``state``; the token
endpoint takes form posts (``authorization_code`` with PKCE ``code_verifier``, or
``refresh_token``) with the client's id and secret and answers JSON, errors as
``{"error", "error_description"}`` with 400. Refresh tokens rotate: each one works once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

TOKEN_PATHS = ("/login/oauth/access_token", "/token", "/api/oauth2/token")
AUTHORIZE_PATHS = ("/login/oauth/authorize", "/o/oauth2/v2/auth", "/oauth2/authorize")


@dataclass
class FakeOAuthProvider:
    """One OAuth app (``client_id``/``client_secret``) and the tokens it has issued."""

    client_id: str = "test-client-id"
    client_secret: str = "test-client-secret-9f8e7d"
    #: ``expires_in`` of access tokens (None: tokens that never expire, as GitHub's).
    expires_in: int | None = 3600
    #: Seconds a refresh takes (to make concurrent refreshes overlap).
    refresh_delay: float = 0.0
    #: Scopes granted (None: those asked for).
    grant_scopes: list[str] | None = None
    username: str = "octo-tester"
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    live_access: set[str] = field(default_factory=set)
    live_refresh: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)
    #: Every token and code handed out, for tests that look for them where they must not be.
    issued: list[str] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def refreshes(self) -> int:
        """How many refresh_token grants succeeded."""
        return self.grants.count("refresh_token")

    @property
    def refresh_attempts(self) -> int:
        """How many refresh_token grants were asked for, refused ones included."""
        return sum(1 for form in self.token_forms if form.get("grant_type") == "refresh_token")

    def app(self) -> Starlette:
        """The ASGI app."""
        routes = [Route(p, self._authorize, methods=["GET"]) for p in AUTHORIZE_PATHS]
        routes += [Route(p, self._token, methods=["POST"]) for p in TOKEN_PATHS]
        routes += [
            Route("/user", self._user, methods=["GET"]),
            Route("/oauth2/v2/userinfo", self._user, methods=["GET"]),
            Route("/api/oauth2/@me", self._user, methods=["GET"]),
            Route("/applications/{client_id}/token", self._revoke, methods=["DELETE"]),
            Route("/revoke", self._revoke, methods=["POST"]),
            Route("/api/oauth2/token/revoke", self._revoke, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        code = f"code-{next(self._serial)}-secret"
        self.issued.append(code)
        self.codes[code] = {
            "redirect_uri": q.get("redirect_uri"),
            "challenge": q.get("code_challenge"),
            "scope": q.get("scope", ""),
        }
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        return RedirectResponse(target, status_code=302)

    def _issue(self, scope: str, *, with_refresh: bool = True) -> dict[str, Any]:
        n = next(self._serial)
        access, refresh = f"access-token-{n}-secret", f"refresh-token-{n}-secret"
        self.live_access.add(access)
        self.issued += [access, refresh]
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "scope": scope}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if with_refresh:
            self.live_refresh.add(refresh)
            body["refresh_token"] = refresh
        return body

    async def _token(self, request: Request) -> Response:
        form = await _form(request)
        self.token_forms.append(form)
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return _error("invalid_client", "client authentication failed")
        grant = form.get("grant_type", "authorization_code")
        if grant == "authorization_code":
            issued = self.codes.pop(form.get("code", ""), None)
            if issued is None:
                return _error("invalid_grant", "the code is unknown or used")
            if issued["redirect_uri"] != form.get("redirect_uri"):
                return _error("invalid_grant", "redirect_uri mismatch")
            challenge = issued["challenge"]
            if challenge and _challenge(form.get("code_verifier", "")) != challenge:
                return _error("invalid_grant", "PKCE verification failed")
            scope = (
                " ".join(self.grant_scopes) if self.grant_scopes is not None else issued["scope"]
            )
            self.grants.append(grant)
            return JSONResponse(self._issue(scope))
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            if token not in self.live_refresh:
                return _error("invalid_grant", f"refresh token {token} is not valid")
            self.live_refresh.discard(token)
            self.grants.append(grant)
            return JSONResponse(self._issue(""))
        return _error("unsupported_grant_type", grant)

    async def _user(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.live_access:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        name = self.username
        return JSONResponse(
            {"login": name, "email": f"{name}@example.test", "user": {"username": name}}
        )

    async def _revoke(self, request: Request) -> Response:
        if request.method == "DELETE":
            token = str((await request.json()).get("access_token", ""))
        else:
            token = (await _form(request)).get("token", "")
        self.live_access.discard(token)
        self.revoked.append(token)
        return Response(status_code=204 if request.method == "DELETE" else 200)


async def _form(request: Request) -> dict[str, str]:
    """A url-encoded form body (parsed here: starlette's parser needs python-multipart)."""
    return dict(parse_qsl((await request.body()).decode()))


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _error(code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=400)
