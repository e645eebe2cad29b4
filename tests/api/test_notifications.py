"""Notifications through the HTTP API, a WebSocket and a local SMTP server (both databases).

Run-finished notifications are recorded in-app once per run, pushed on ``/ws`` and e-mailed
in one batch; immediate types are e-mailed at once, within the user's daily limit; the
unsubscribe link works without a login; a 451 is retried and no message is sent twice;
ZERO_BALANCE is sent once until the next top-up.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from autoplat.config import Settings
from autoplat.db.notify_outbox import EmailDraft
from autoplat.db.types import utcnow
from autoplat.graphs import catalog
from autoplat.notifications.types import NotificationType
from autoplat.platform import Platform
from autoplat.testing import TEST_USER_ID, client_for, make_settings, make_token
from tests.support.graphs import wait_for_run
from tests.support.smtp import Mailbox, smtp_server

ADMIN = "admin-n"


@pytest.fixture
def mailbox_and_port() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def mailbox(mailbox_and_port: tuple[Mailbox, int]) -> Mailbox:
    return mailbox_and_port[0]


@pytest.fixture
def autoplat_settings(
    autoplat_database_url: str, tmp_path: Path, mailbox_and_port: tuple[Mailbox, int]
) -> Settings:
    return make_settings(
        autoplat_database_url,
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=mailbox_and_port[1],
        smtp_tls="none",
        notification_batch_minutes=0.0001,
        credits_enabled=False,
    )


@pytest.fixture
async def admin(autoplat_platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(autoplat_platform, ADMIN, role="admin") as client:
        yield client


def _graph() -> dict[str, Any]:
    nodes = [
        {"id": "in", "block_id": catalog.AGENT_INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": catalog.AGENT_OUTPUT, "input_default": {"name": "y"}},
    ]
    links = [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]
    return {"graph": {"name": "echo <agent>", "nodes": nodes, "links": links}}


async def _signed_up(client: httpx.AsyncClient, email: str = "a@example.com") -> None:
    assert (await client.post("/api/auth/user")).status_code == 200
    prefs = {"email": email, "preferences": {}, "daily_limit": 10}
    assert (await client.post("/api/auth/user/preferences", json=prefs)).status_code == 200


async def _run(platform: Platform, client: httpx.AsyncClient, graph: dict[str, Any]) -> str:
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
    response = await client.post(url, json={"inputs": {"x": 1}})
    assert response.status_code == 200, response.text
    run_id = str(response.json()["id"])
    await wait_for_run(platform.db, run_id)
    return run_id


async def _eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


def _count(mailbox: Mailbox, count: int) -> Any:
    async def check() -> bool:
        return len(mailbox.messages) >= count

    return check


async def _notifications(client: httpx.AsyncClient, type: str) -> list[dict[str, Any]]:
    body = (await client.get("/api/notifications", params={"type": type})).json()
    return list(body["items"])


async def test_runs_are_notified_in_app_live_and_in_one_batch_email(
    autoplat_platform: Platform,
    autoplat_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    mailbox: Mailbox,
) -> None:
    await _signed_up(autoplat_client)
    graph = (await autoplat_client.post("/api/graphs", json=_graph())).json()
    ws_url = autoplat_platform.url.replace("http", "ws") + "/ws"
    headers = {"Authorization": f"Bearer {make_token(TEST_USER_ID)}"}
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        first = await _run(autoplat_platform, autoplat_client, graph)
        pushed = None
        while pushed is None:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["method"] == "notification":
                pushed = message["data"]
    assert pushed["type"] == "AGENT_RUN" and pushed["data"]["graph_exec_id"] == first
    second = await _run(autoplat_platform, autoplat_client, graph)

    async def both() -> list[dict[str, Any]]:
        items = await _notifications(autoplat_client, "AGENT_RUN")
        return items if len(items) == 2 else []

    items = await _eventually(both)
    assert {n["data"]["graph_exec_id"] for n in items} == {first, second}
    assert all(n["data"]["status"] == "COMPLETED" for n in items)

    await asyncio.sleep(0.05)  # older than the (tiny) batch window
    ran = await admin.post("/api/admin/jobs/notification_batches/run")
    assert ran.status_code == 200, ran.text
    await _eventually(_count(mailbox, 1))
    message = mailbox.messages[0]
    assert message["To"] == "a@example.com"
    assert message["Subject"] == "2 agent runs finished"
    text = mailbox.text(message)
    assert first in text and second in text
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<agent>" not in str(html.get_content())
    # The batch was taken: running the job again sends nothing.
    await admin.post("/api/admin/jobs/notification_batches/run")
    assert len(mailbox.messages) == 1


async def test_immediate_emails_keep_the_daily_limit_and_the_unsubscribe_link_works(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await _signed_up(autoplat_client)
    prefs = {"email": "a@example.com", "preferences": {"LOW_BALANCE": True}, "daily_limit": 1}
    await autoplat_client.post("/api/auth/user/preferences", json=prefs)
    service = autoplat_platform.notifications
    await service.notify(TEST_USER_ID, NotificationType.LOW_BALANCE, {"balance": 5, "threshold": 9})
    await service.notify(TEST_USER_ID, NotificationType.LOW_BALANCE, {"balance": 4, "threshold": 9})

    async def done() -> list[str]:
        await service.send_pending()
        emails = await autoplat_platform.db.outbox.emails_for(TEST_USER_ID)
        statuses = [e["status"] for e in emails]
        return statuses if "PENDING" not in statuses and "SENDING" not in statuses else []

    assert await _eventually(done) == ["SENT", "SKIPPED"]
    assert len(mailbox.messages) == 1
    text = mailbox.text(mailbox.messages[0])
    assert "Your credit balance is 5, below 9." in text
    assert len(await _notifications(autoplat_client, "LOW_BALANCE")) == 2  # in-app: both

    link = re.search(r"(http\S+/api/notifications/unsubscribe\?token=\S+)", text)
    assert link is not None
    async with httpx.AsyncClient() as anonymous:  # no login
        assert (await anonymous.get(link.group(1))).json() == {"unsubscribed": True}
        bad = await anonymous.get(
            autoplat_platform.url + "/api/notifications/unsubscribe", params={"token": "x" * 40}
        )
        assert bad.status_code == 404
    stored = (await autoplat_client.get("/api/auth/user/preferences")).json()
    assert stored["preferences"]["LOW_BALANCE"] is False
    await service.notify(TEST_USER_ID, NotificationType.LOW_BALANCE, {"balance": 3, "threshold": 9})
    await service.send_pending()
    assert len(mailbox.messages) == 1
    assert len(await autoplat_platform.db.outbox.emails_for(TEST_USER_ID)) == 2


async def test_a_busy_server_is_retried_and_no_email_is_sent_twice(
    autoplat_platform: Platform, autoplat_client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await _signed_up(autoplat_client)
    mailbox.fail_next = 1
    service = autoplat_platform.notifications
    outbox = autoplat_platform.db.outbox
    await service.notify(TEST_USER_ID, NotificationType.AGENT_APPROVED, {"agent_name": "Echo"})

    async def sent() -> bool:
        await service.send_pending()
        return len(mailbox.messages) == 1

    await _eventually(sent)
    assert mailbox.fail_next == 0  # the first attempt was refused with a 451
    [row] = await outbox.emails_for(TEST_USER_ID)
    assert (row["status"], row["attempts"]) == ("SENT", 2)
    await service.send_pending()
    assert len(mailbox.messages) == 1
    # An e-mail whose sender vanished mid-send is given up, never sent again.
    draft = EmailDraft("AGENT_REJECTED", "a@example.com", "s", "t", "<p>t</p>")
    email_id = await outbox.add_email(TEST_USER_ID, draft)
    assert await outbox.claim(email_id, utcnow()) is not None
    assert await outbox.abandon_stale(utcnow() + timedelta(hours=1)) == 1
    await service.send_pending()
    assert len(mailbox.messages) == 1
    statuses = {e["id"]: e["status"] for e in await outbox.emails_for(TEST_USER_ID)}
    assert statuses[email_id] == "FAILED"


async def test_zero_balance_is_sent_once_until_the_next_top_up(
    autoplat_platform: Platform,
    autoplat_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    mailbox: Mailbox,
) -> None:
    await _signed_up(autoplat_client)
    service = autoplat_platform.notifications
    zero = NotificationType.ZERO_BALANCE
    assert await service.notify(TEST_USER_ID, zero, {"balance": 0}) is not None
    assert await service.notify(TEST_USER_ID, zero, {"balance": 0}) is None
    grant = await admin.post(
        "/api/admin/credits/grant", json={"user_id": TEST_USER_ID, "amount": 10}
    )
    assert grant.status_code == 200, grant.text
    assert await service.notify(TEST_USER_ID, zero, {"balance": 0}) is not None
    assert len(await _notifications(autoplat_client, "ZERO_BALANCE")) == 2
    await service.send_pending()
    await _eventually(_count(mailbox, 2))
    assert [m["Subject"] for m in mailbox.messages] == ["You are out of credits"] * 2


async def test_a_notification_recorded_by_another_process_reaches_this_ones_websocket(
    autoplat_platform: Platform,
    autoplat_client: httpx.AsyncClient,
    autoplat_settings: Settings,
    tmp_path: Path,
) -> None:
    if not autoplat_platform.db.is_postgres:
        pytest.skip("processes share a database only on PostgreSQL")
    await _signed_up(autoplat_client)
    other = autoplat_settings.model_copy(update={"data_dir": tmp_path / "other", "port": 0})
    async with Platform(other) as second:
        ws_url = second.url.replace("http", "ws") + "/ws"
        headers = {"Authorization": f"Bearer {make_token(TEST_USER_ID)}"}
        async with websockets.connect(ws_url, additional_headers=headers) as ws:
            await asyncio.sleep(0.1)  # the listener is registered once the socket is accepted
            recorded = await autoplat_platform.notifications.notify(
                TEST_USER_ID, NotificationType.AGENT_APPROVED, {"agent_name": "Echo"}
            )
            assert recorded is not None
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["method"] == "notification"
            assert message["data"]["id"] == recorded["id"]
            # Once only, though every poll window overlaps the last.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 4.5)
