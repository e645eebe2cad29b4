"""Routes for users' integration credentials and OAuth2 logins, on AutoGPT's paths.

Invariant: no route answers a secret. Credentials are created with their secret in the
body and come back as ``CredentialsMeta``; reads, lists and deletes show metadata only;
another user's credential id answers the same 404 as one that does not exist. Permissions
are AutoGPT's: ``READ_INTEGRATIONS`` to list and read, ``MANAGE_INTEGRATIONS`` to add
credentials and to log in with OAuth2, ``DELETE_INTEGRATIONS`` to delete.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel, SecretStr
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import (
    JsonInteger,
    QueryModel,
    StrictBody,
    page_of,
    paginated,
    parse_body,
    parse_query,
)
from autoplat.integrations.model import (
    APIKeyCredentials,
    Credentials,
    CredentialsMeta,
    CredentialsType,
    HostScopedCredentials,
    OAuth2Credentials,
    UserPasswordCredentials,
)
from autoplat.integrations.providers import ProviderInfo
from autoplat.integrations.service import CredentialsService

_TAGS = ["integrations"]
#: Where the web app receives OAuth2 redirects (AutoGPT's path); it posts to /callback.
OAUTH_CALLBACK_PATH = "/auth/integrations/oauth_callback"

_Secret = Annotated[SecretStr, Field(min_length=1, max_length=20_000)]
_Title = Annotated[str | None, Field(default=None, max_length=500)]
# The bounds come before JsonInteger so that the document keeps them (see StrictJsonInt).
_UnixTime = Annotated[int, Field(ge=0, le=2**40), JsonInteger]


class _CreateBase(StrictBody):
    title: _Title = None
    provider: str | None = Field(
        default=None, max_length=100, description="Ignored: the path names the provider."
    )
    id: str | None = Field(
        default=None, max_length=100, description="Ignored: the server chooses the id."
    )


class APIKeyIn(_CreateBase):
    """An API key."""

    type: Literal["api_key"]
    api_key: _Secret
    expires_at: _UnixTime | None = Field(default=None, description="Unix time.")


class OAuth2In(_CreateBase):
    """Tokens obtained elsewhere (logins through ``/login`` store theirs themselves)."""

    type: Literal["oauth2"]
    access_token: _Secret
    refresh_token: _Secret | None = None
    access_token_expires_at: _UnixTime | None = None
    refresh_token_expires_at: _UnixTime | None = None
    scopes: list[Annotated[str, Field(max_length=500)]] = Field(
        default_factory=list, max_length=100
    )
    username: str | None = Field(default=None, max_length=500)


class UserPasswordIn(_CreateBase):
    """A user name and password."""

    type: Literal["user_password"]
    username: _Secret
    password: _Secret


class HostScopedIn(_CreateBase):
    """Headers sent only to ``host``."""

    type: Literal["host_scoped"]
    host: str = Field(min_length=1, max_length=500)
    headers: dict[Annotated[str, Field(min_length=1, max_length=200)], _Secret] = Field(
        default_factory=dict, max_length=50
    )


class CreateCredentialsIn(
    RootModel[
        Annotated[APIKeyIn | OAuth2In | UserPasswordIn | HostScopedIn, Field(discriminator="type")]
    ]
):
    """Body of ``POST /integrations/{provider}/credentials``: one of AutoGPT's four types."""

    def to_credentials(self, provider: str) -> Credentials:
        """The credential to store (its id is chosen by the store)."""
        body = self.root
        common: dict[str, Any] = {"id": "", "provider": provider, "title": body.title}
        if isinstance(body, APIKeyIn):
            return APIKeyCredentials(**common, api_key=body.api_key, expires_at=body.expires_at)
        if isinstance(body, OAuth2In):
            return OAuth2Credentials(
                **common,
                access_token=body.access_token,
                refresh_token=body.refresh_token,
                access_token_expires_at=body.access_token_expires_at,
                refresh_token_expires_at=body.refresh_token_expires_at,
                scopes=body.scopes,
                username=body.username,
            )
        if isinstance(body, UserPasswordIn):
            return UserPasswordCredentials(**common, username=body.username, password=body.password)
        return HostScopedCredentials(**common, host=body.host, headers=body.headers)


class DeletedOut(BaseModel):
    """AutoGPT's deletion answer."""

    deleted: Literal[True] = True
    revoked: bool | None = Field(
        default=None,
        description="Whether the provider also revoked the tokens; null when not applicable "
        "(credentials that are not OAuth2).",
    )


class ProviderOut(BaseModel):
    """A provider credentials can be for."""

    name: str
    title: str
    credentials_types: list[CredentialsType]
    oauth: bool = Field(description="The platform has an OAuth2 login for this provider.")
    oauth_configured: bool = Field(
        description="The operator configured it: logins are available (false: unavailable)."
    )
    system_credentials: bool = Field(description="The platform offers its own credentials.")
    default_scopes: list[str] = Field(default_factory=list)


class LoginQuery(QueryModel):
    """Query of ``GET /integrations/{provider}/login``."""

    scopes: str = Field(default="", max_length=5000, description="Comma-separated scopes.")


class LoginOut(BaseModel):
    """Where to send the user, and the state token the callback must present."""

    login_url: str
    state_token: str


class CallbackIn(StrictBody):
    """Body of ``POST /integrations/{provider}/callback`` (AutoGPT's fields)."""

    code: _Secret = Field(description="The authorization code the provider handed back.")
    state_token: str = Field(min_length=1, max_length=512)
    title: _Title = None


def _service(request: Request) -> CredentialsService:
    return get_platform(request).credentials


def _provider(request: Request) -> str:
    name = str(request.path_params["provider"])
    _service(request).providers.require(name)
    return name


def _redirect_uri(request: Request) -> str:
    base = get_platform(request).settings.frontend_base_url.rstrip("/")
    if not base:
        # The server's own origin: request.base_url would include the /api mount.
        base = f"{request.url.scheme}://{request.url.netloc}"
    return base + OAUTH_CALLBACK_PATH


@endpoint(
    "GET",
    "/integrations/credentials",
    response=CredentialsMeta,
    paginated=True,
    permission="READ_INTEGRATIONS",
    summary="List credentials",
    tags=_TAGS,
)
async def list_credentials(request: Request) -> dict[str, Any]:
    """The caller's credentials of every provider, platform ones first; never a secret."""
    principal = await current_principal(request)
    page = page_of(request)
    items, total = await _service(request).page_meta(
        principal.user_id, offset=page.offset, limit=page.page_size
    )
    return paginated(items, total, page)


@endpoint(
    "GET",
    "/integrations/providers",
    response=ProviderOut,
    paginated=True,
    permission="READ_INTEGRATIONS",
    summary="List providers",
    tags=_TAGS,
)
async def list_providers(request: Request) -> dict[str, Any]:
    """Every provider, with its credential types and whether its OAuth login is available."""
    await current_principal(request)
    page = page_of(request)
    infos: list[ProviderInfo] = _service(request).providers.describe()
    shown = infos[page.offset : page.offset + page.page_size]
    return paginated(
        [ProviderOut.model_validate(i, from_attributes=True) for i in shown], len(infos), page
    )


@endpoint(
    "GET",
    "/integrations/{provider}/credentials",
    response=CredentialsMeta,
    paginated=True,
    permission="READ_INTEGRATIONS",
    summary="List credentials of a provider",
    tags=_TAGS,
)
async def list_provider_credentials(request: Request) -> dict[str, Any]:
    """The caller's credentials for ``provider``; 404 for a provider that does not exist."""
    principal = await current_principal(request)
    provider = _provider(request)
    page = page_of(request)
    items, total = await _service(request).page_meta(
        principal.user_id, provider=provider, offset=page.offset, limit=page.page_size
    )
    return paginated(items, total, page)


@endpoint(
    "POST",
    "/integrations/{provider}/credentials",
    body=CreateCredentialsIn,
    response=CredentialsMeta,
    status=201,
    permission="MANAGE_INTEGRATIONS",
    summary="Create credentials",
    tags=_TAGS,
)
async def create_credentials(request: Request) -> CredentialsMeta:
    """Store credentials of ``provider`` (encrypted); the answer shows everything but secrets."""
    principal = await current_principal(request)
    provider = _provider(request)
    body = await parse_body(request, CreateCredentialsIn)
    return await _service(request).create(principal.user_id, body.to_credentials(provider))


@endpoint(
    "GET",
    "/integrations/{provider}/credentials/{cred_id}",
    response=CredentialsMeta,
    permission="READ_INTEGRATIONS",
    summary="Get credentials",
    tags=_TAGS,
)
async def get_credentials(request: Request) -> CredentialsMeta:
    """One credential's metadata (a platform credential's too); never its secret."""
    principal = await current_principal(request)
    provider = _provider(request)
    return await _service(request).get(
        principal.user_id, str(request.path_params["cred_id"]), provider=provider
    )


@endpoint(
    "DELETE",
    "/integrations/{provider}/credentials/{cred_id}",
    response=DeletedOut,
    permission="DELETE_INTEGRATIONS",
    summary="Delete credentials",
    tags=_TAGS,
)
async def delete_credentials(request: Request) -> DeletedOut:
    """Delete the caller's credential; OAuth2 tokens are also revoked where the provider can."""
    principal = await current_principal(request)
    provider = _provider(request)
    revoked = await _service(request).delete(
        principal.user_id, str(request.path_params["cred_id"]), provider=provider
    )
    return DeletedOut(revoked=revoked)


@endpoint(
    "GET",
    "/integrations/{provider}/login",
    query=LoginQuery,
    response=LoginOut,
    permission="MANAGE_INTEGRATIONS",
    summary="Start an OAuth2 login",
    tags=_TAGS,
    errors=[409],
)
async def login(request: Request) -> LoginOut:
    """A login URL with a state token and PKCE challenge; 409 when the operator has not
    configured the provider's OAuth app, 404 when the provider has no OAuth login."""
    principal = await current_principal(request)
    provider = _provider(request)
    query = parse_query(request, LoginQuery)
    scopes = [s.strip() for s in query.scopes.split(",") if s.strip()][:100]
    start = await _service(request).start_login(
        principal.user_id, provider, scopes, _redirect_uri(request)
    )
    return LoginOut(login_url=start.login_url, state_token=start.state_token)


@endpoint(
    "POST",
    "/integrations/{provider}/callback",
    body=CallbackIn,
    response=CredentialsMeta,
    permission="MANAGE_INTEGRATIONS",
    summary="Finish an OAuth2 login",
    tags=_TAGS,
    errors=[409],
)
async def callback(request: Request) -> CredentialsMeta:
    """Exchange the code for tokens and store them; 400 for a bad or expired state token or a
    code the provider refused."""
    principal = await current_principal(request)
    provider = _provider(request)
    body = await parse_body(request, CallbackIn)
    return await _service(request).finish_login(
        principal.user_id,
        provider,
        code=body.code.get_secret_value(),
        state_token=body.state_token,
        redirect_uri=_redirect_uri(request),
        title=body.title,
    )


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [
        list_credentials,
        list_providers,
        list_provider_credentials,
        create_credentials,
        get_credentials,
        delete_credentials,
        login,
        callback,
    ]
