"""Credits over HTTP: balance, ledger listing, notifications, admin grants and refunds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for, make_settings, running_platform


async def grant(platform: Platform, user_id: str, amount: int, **extra: Any) -> httpx.Response:
    async with client_for(platform, "admin-1", role="admin") as admin:
        return await admin.post(
            "/api/admin/credits/grant", json={"user_id": user_id, "amount": amount, **extra}
        )


async def test_balance_starts_at_zero(autoplat_client: httpx.AsyncClient) -> None:
    response = await autoplat_client.get("/api/credits")
    assert response.status_code == 200
    assert response.json() == {"credits": 0, "enabled": True}


async def test_admin_grant_then_balance_and_ledger(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.get("/api/credits")  # the user exists once seen
    response = await grant(autoplat_platform, TEST_USER_ID, 40, reason="welcome")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] and body["balance"] == 40
    assert body["transaction"]["type"] == "GRANT"
    assert body["transaction"]["metadata"] == {"reason": "welcome", "by": "admin-1"}
    top_up = await grant(autoplat_platform, TEST_USER_ID, 10, type="TOP_UP")
    assert top_up.json()["balance"] == 50
    assert (await autoplat_client.get("/api/credits")).json()["credits"] == 50
    listing = await autoplat_client.get("/api/credits/transactions", params={"page_size": 1})
    assert listing.status_code == 200
    data = listing.json()
    assert data["pagination"] == {
        "total_items": 2,
        "total_pages": 2,
        "current_page": 1,
        "page_size": 1,
    }
    assert data["items"][0]["type"] == "TOP_UP"
    assert data["items"][0]["running_balance"] == 50
    grants = await autoplat_client.get("/api/credits/transactions", params={"type": "grant"})
    assert [t["amount"] for t in grants.json()["items"]] == [40]
    both = await autoplat_client.get("/api/credits/transactions?type=GRANT,TOP_UP")
    assert both.json()["pagination"]["total_items"] == 2
    future = await autoplat_client.get(
        "/api/credits/transactions", params={"since": "2999-01-01T00:00:00Z"}
    )
    assert future.json()["items"] == []
    past = await autoplat_client.get(
        "/api/credits/transactions", params={"until": "2000-01-01T00:00:00Z"}
    )
    assert past.json()["items"] == []


async def test_grant_with_a_key_is_repeat_safe(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.get("/api/credits")
    first = await grant(autoplat_platform, TEST_USER_ID, 25, idempotency_key="promo-1")
    again = await grant(autoplat_platform, TEST_USER_ID, 25, idempotency_key="promo-1")
    assert first.json()["created"] and not again.json()["created"]
    assert again.json()["transaction"]["id"] == first.json()["transaction"]["id"]
    assert again.json()["balance"] == 25


async def test_grant_errors(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    not_admin = await autoplat_client.post(
        "/api/admin/credits/grant", json={"user_id": TEST_USER_ID, "amount": 5}
    )
    assert not_admin.status_code == 403
    unknown = await grant(autoplat_platform, "nobody-here", 5)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    bad_bodies: list[dict[str, Any]] = [
        {"amount": 0},
        {"amount": -3},
        {"amount": "x"},
        {"amount": 5, "type": "USAGE"},
        {"amount": 5, "extra": 1},
        {"amount": 10**12},
        {"amount": True},
        {"amount": "5"},
    ]
    async with client_for(autoplat_platform, "admin-1", role="admin") as admin:
        for bad in bad_bodies:
            response = await admin.post(
                "/api/admin/credits/grant", json={"user_id": TEST_USER_ID, **bad}
            )
            assert response.status_code == 422, bad
        assert response.json()["error"]["details"], bad


async def test_transaction_query_errors(autoplat_client: httpx.AsyncClient) -> None:
    bad_type = await autoplat_client.get("/api/credits/transactions", params={"type": "BONUS"})
    assert bad_type.status_code == 422
    assert bad_type.json()["error"]["details"][0]["field"].startswith("query.type")
    bad_time = await autoplat_client.get("/api/credits/transactions", params={"since": "soon"})
    assert bad_time.status_code == 422
    bad_page = await autoplat_client.get("/api/credits/transactions", params={"page": 0})
    assert bad_page.status_code == 422
    for out_of_range in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        response = await autoplat_client.get(
            "/api/credits/transactions", params={"since": out_of_range}
        )
        assert response.status_code == 422, out_of_range


async def test_refund_a_usage_over_http(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.get("/api/credits")
    await grant(autoplat_platform, TEST_USER_ID, 10)
    usage = await autoplat_platform.db.credits.spend(TEST_USER_ID, 4, key="usage:n1")
    assert usage is not None
    async with client_for(autoplat_platform, "admin-1", role="admin") as admin:
        refund = await admin.post(
            "/api/admin/credits/refund",
            json={"transaction_id": usage.transaction.id, "reason": "bad output"},
        )
        assert refund.status_code == 200, refund.text
        assert refund.json()["transaction"]["type"] == "REFUND"
        assert refund.json()["transaction"]["amount"] == 4
        assert refund.json()["balance"] == 10
        twice = await admin.post(
            "/api/admin/credits/refund", json={"transaction_id": usage.transaction.id}
        )
        assert twice.status_code == 200 and not twice.json()["created"]
        grant_id = refund.json()["transaction"]["id"]
        wrong = await admin.post("/api/admin/credits/refund", json={"transaction_id": grant_id})
        assert wrong.status_code == 409
        missing = await admin.post("/api/admin/credits/refund", json={"transaction_id": "nope"})
        assert missing.status_code == 404
    forbidden = await autoplat_client.post(
        "/api/admin/credits/refund", json={"transaction_id": usage.transaction.id}
    )
    assert forbidden.status_code == 403
    assert (await autoplat_client.get("/api/credits")).json()["credits"] == 10


async def test_notifications_list_and_mark_read(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.get("/api/credits")
    note = await autoplat_platform.db.notifications.add(TEST_USER_ID, "LOW_BALANCE", {"balance": 3})
    listing = await autoplat_client.get("/api/notifications")
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [(n["id"], n["type"], n["data"], n["read_at"]) for n in items] == [
        (note["id"], "LOW_BALANCE", {"balance": 3}, None)
    ]
    read = await autoplat_client.post(f"/api/notifications/{note['id']}/read")
    assert read.status_code == 204
    unread = await autoplat_client.get("/api/notifications", params={"unread_only": "true"})
    assert unread.json()["items"] == []
    async with client_for(autoplat_platform, "user-b") as other:
        assert (await other.get("/api/notifications")).json()["items"] == []
        theirs = await other.post(f"/api/notifications/{note['id']}/read")
        assert theirs.status_code == 404


async def test_admin_sees_any_users_balance_and_ledger(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient
) -> None:
    await autoplat_client.get("/api/credits")
    await grant(autoplat_platform, TEST_USER_ID, 12)
    async with client_for(autoplat_platform, "admin-1", role="admin") as admin:
        balance = await admin.get(f"/api/admin/credits/{TEST_USER_ID}")
        assert balance.json() == {"user_id": TEST_USER_ID, "credits": 12, "ledger_sum": 12}
        ledger = await admin.get(f"/api/admin/credits/{TEST_USER_ID}/transactions")
        assert [t["amount"] for t in ledger.json()["items"]] == [12]
        assert (await admin.get("/api/admin/credits/nobody-here")).status_code == 404
        missing = await admin.get("/api/admin/credits/nobody-here/transactions")
        assert missing.status_code == 404
    assert (await autoplat_client.get("/api/admin/credits/admin-1")).status_code == 403


async def test_credits_off_reports_disabled(autoplat_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(autoplat_database_url, tmp_path, credits_enabled=False)
    async with running_platform(settings) as (platform, client):
        response = await client.get("/api/credits")
        assert response.json() == {"credits": 0, "enabled": False}
        await platform.credits.ensure_can_run(TEST_USER_ID)
