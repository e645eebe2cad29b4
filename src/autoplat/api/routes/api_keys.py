"""Routes for API key management: create (secret shown once), list, get, revoke, suspend."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.accounts.schemas import (
    ApiKeyOut,
    CreateApiKeyIn,
    CreateApiKeyOut,
    UpdatePermissionsIn,
)
from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import page_of, paginated, parse_body

TAGS = ["api-keys"]
PERMISSION = "MANAGE_API_KEYS"


@endpoint(
    "POST",
    "/api-keys",
    body=CreateApiKeyIn,
    response=CreateApiKeyOut,
    permission=PERMISSION,
    summary="Create an API key",
    tags=TAGS,
)
async def create_api_key(request: Request) -> CreateApiKeyOut:
    """Mint a key; the plain-text key is in this response only (only a hash is stored)."""
    principal = await current_principal(request)
    body = await parse_body(request, CreateApiKeyIn)
    minted = await get_platform(request).auth.api_keys.create(
        principal.user_id, body.name, [p.value for p in body.permissions], body.description
    )
    return CreateApiKeyOut(
        api_key=ApiKeyOut.model_validate(minted.key), plain_text_key=minted.secret
    )


@endpoint(
    "GET",
    "/api-keys",
    response=ApiKeyOut,
    paginated=True,
    permission=PERMISSION,
    summary="List the user's API keys",
    tags=TAGS,
)
async def list_api_keys(request: Request) -> dict[str, Any]:
    """The caller's keys, newest first, revoked ones included."""
    principal = await current_principal(request)
    page = page_of(request)
    keys, total = await get_platform(request).db.api_keys.list_for_user(
        principal.user_id, offset=page.offset, limit=page.page_size
    )
    return paginated([ApiKeyOut.model_validate(k) for k in keys], total, page)


@endpoint(
    "GET",
    "/api-keys/{key_id}",
    response=ApiKeyOut,
    permission=PERMISSION,
    summary="Get an API key",
    tags=TAGS,
)
async def get_api_key(request: Request) -> ApiKeyOut:
    """One of the caller's keys (without its secret)."""
    principal = await current_principal(request)
    key_id = request.path_params["key_id"]
    key = await get_platform(request).auth.api_keys.get(principal.user_id, key_id)
    return ApiKeyOut.model_validate(key)


@endpoint(
    "DELETE",
    "/api-keys/{key_id}",
    response=ApiKeyOut,
    permission=PERMISSION,
    summary="Revoke an API key",
    tags=TAGS,
    keeps="the key stays readable and listed with status REVOKED (as AutoGPT keeps it)",
)
async def revoke_api_key(request: Request) -> ApiKeyOut:
    """Revoke the key for good; it stays listed with status REVOKED."""
    principal = await current_principal(request)
    key_id = request.path_params["key_id"]
    key = await get_platform(request).auth.api_keys.revoke(principal.user_id, key_id)
    return ApiKeyOut.model_validate(key)


@endpoint(
    "POST",
    "/api-keys/{key_id}/suspend",
    response=ApiKeyOut,
    permission=PERMISSION,
    summary="Suspend an API key",
    tags=TAGS,
    errors=[409],
)
async def suspend_api_key(request: Request) -> ApiKeyOut:
    """Stop the key from authenticating without revoking it."""
    principal = await current_principal(request)
    key_id = request.path_params["key_id"]
    key = await get_platform(request).auth.api_keys.suspend(principal.user_id, key_id)
    return ApiKeyOut.model_validate(key)


@endpoint(
    "PUT",
    "/api-keys/{key_id}/permissions",
    body=UpdatePermissionsIn,
    response=ApiKeyOut,
    permission=PERMISSION,
    summary="Replace an API key's permissions",
    tags=TAGS,
    errors=[409],
)
async def update_api_key_permissions(request: Request) -> ApiKeyOut:
    """Set the full list of permissions the key grants."""
    principal = await current_principal(request)
    body = await parse_body(request, UpdatePermissionsIn)
    key_id = request.path_params["key_id"]
    key = await get_platform(request).auth.api_keys.set_permissions(
        principal.user_id, key_id, [p.value for p in body.permissions]
    )
    return ApiKeyOut.model_validate(key)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [
        create_api_key,
        list_api_keys,
        get_api_key,
        revoke_api_key,
        suspend_api_key,
        update_api_key_permissions,
    ]
