"""The permissions an API key can hold; JWT and local callers hold all of them."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """One capability of an API key, named as AutoGPT names them."""

    IDENTITY = "IDENTITY"
    EXECUTE_GRAPH = "EXECUTE_GRAPH"
    READ_GRAPH = "READ_GRAPH"
    WRITE_GRAPH = "WRITE_GRAPH"
    EXECUTE_BLOCK = "EXECUTE_BLOCK"
    READ_BLOCK = "READ_BLOCK"
    READ_SCHEDULE = "READ_SCHEDULE"
    WRITE_SCHEDULE = "WRITE_SCHEDULE"
    READ_CREDITS = "READ_CREDITS"
    MANAGE_API_KEYS = "MANAGE_API_KEYS"
    #: Credentials for integrations: list and read / add and log in with OAuth2 / delete.
    READ_INTEGRATIONS = "READ_INTEGRATIONS"
    MANAGE_INTEGRATIONS = "MANAGE_INTEGRATIONS"
    DELETE_INTEGRATIONS = "DELETE_INTEGRATIONS"


def all_permissions() -> frozenset[str]:
    """Every permission name."""
    return frozenset(p.value for p in Permission)


def check_permission_name(name: str) -> str:
    """``name`` if it is a known permission; ValueError otherwise (catches typos early)."""
    if name not in all_permissions():
        known = ", ".join(sorted(all_permissions()))
        raise ValueError(f"unknown permission {name!r}; known: {known}")
    return name
