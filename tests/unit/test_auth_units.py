"""Pieces of authentication and the API frame that need no database."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from autoplat.accounts.api_keys import hash_secret
from autoplat.accounts.auth import Principal
from autoplat.accounts.permissions import Permission, all_permissions, check_permission_name
from autoplat.api.endpoint import endpoint
from autoplat.api.openapi import openapi_path
from autoplat.api.ratelimit import RateLimiter
from autoplat.errors import PermissionDenied, RateLimited


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_refills_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    for _ in range(60):
        limiter.check("u1")
    with pytest.raises(RateLimited) as caught:
        limiter.check("u1")
    assert caught.value.status == 429
    assert "60 per minute" in caught.value.message
    limiter.check("u2")  # buckets are per user
    clock.now += 1.0  # one token back per second at 60/minute
    limiter.check("u1")
    with pytest.raises(RateLimited):
        limiter.check("u1")


def test_rate_limiter_zero_means_unlimited() -> None:
    limiter = RateLimiter(0)
    for _ in range(10_000):
        limiter.check("u1")


def test_rate_limiter_forgets_idle_users() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock)
    for user in ("a", "b", "c"):
        limiter.check(user)
    clock.now += 500
    limiter.check("d")
    assert set(limiter._buckets) == {"d"}


def test_principal_permissions() -> None:
    unrestricted = Principal("u", via="jwt")
    assert all(unrestricted.can(p) for p in all_permissions())
    key = Principal("u", permissions=frozenset({"READ_GRAPH"}), via="api_key")
    assert key.can("READ_GRAPH") and not key.can("WRITE_GRAPH")
    with pytest.raises(PermissionDenied, match="WRITE_GRAPH"):
        key.require("WRITE_GRAPH")
    with pytest.raises(PermissionDenied):
        key.require_admin()
    Principal("root", role="admin").require_admin()


def test_permission_names_are_checked_when_routes_are_declared() -> None:
    assert check_permission_name("EXECUTE_GRAPH") == "EXECUTE_GRAPH"
    assert {"EXECUTE_GRAPH", "READ_GRAPH", "WRITE_GRAPH", "READ_BLOCK"} <= all_permissions()
    assert Permission.READ_BLOCK == "READ_BLOCK"

    async def handler(request: Request) -> None:
        return None

    with pytest.raises(ValueError, match="unknown permission 'READ_GRAPHS'"):
        endpoint("GET", "/x", summary="x", permission="READ_GRAPHS")(handler)
    with pytest.raises(ValueError, match="unsupported HTTP method"):
        endpoint("FETCH", "/x", summary="x")(handler)


def test_endpoint_builds_a_route_with_its_spec() -> None:
    async def get_thing(request: Request) -> None:
        """Fetch a thing."""

    route = endpoint("get", "/things/{thing_id}", summary="Get", permission="READ_GRAPH")(get_thing)
    assert route.path == "/things/{thing_id}"
    assert route.methods == {"GET", "HEAD"}
    assert route.spec.operation_id == "get_thing"
    assert route.spec.description == "Fetch a thing."


def test_secret_hashing_is_salted_and_deterministic() -> None:
    salt_a, salt_b = "00" * 16, "01" * 16
    assert hash_secret("agpt_secret", salt_a) == hash_secret("agpt_secret", salt_a)
    assert hash_secret("agpt_secret", salt_a) != hash_secret("agpt_secret", salt_b)
    assert len(hash_secret("agpt_secret", salt_a)) == 128


def test_openapi_paths_drop_starlette_convertors() -> None:
    assert openapi_path("/api/graphs/{graph_id}/versions/{version:int}") == (
        "/api/graphs/{graph_id}/versions/{version}"
    )
