"""Notifications across two platforms on one PostgreSQL database.

A notification one process records reaches another process's ``/ws`` by LISTEN/NOTIFY (at
once, not at the next poll), and only its own user's socket, even when recorded while the
listener was reconnecting; two processes sending one
user's e-mail at the same time keep that user's daily limit exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import websockets
from aiosmtpd.controller import Controller

from autoplat.executions.pglisten import asyncpg_dsn
from autoplat.notifications.types import NotificationType
from autoplat.platform import Platform
from autoplat.testing import PG_ENV, client_for, free_port, make_settings, make_token
from tests.support.smtp import Mailbox

pytestmark = pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason="two processes share a database only on PostgreSQL"
)

ALICE, BOB = "user-alice", "user-bob"
Pair = tuple[Platform, Platform]


class SlowMailbox(Mailbox):
    """A mailbox whose server takes a moment per message, as a real one does: the window in
    which two senders could both pass a limit they read before either finished."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def mailbox_and_port() -> Iterator[tuple[Mailbox, int]]:
    mailbox = SlowMailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
async def pair(
    autoplat_database_url: str, tmp_path: Path, mailbox_and_port: tuple[Mailbox, int]
) -> AsyncIterator[Pair]:
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": mailbox_and_port[1], "smtp_tls": "none"}
    first = make_settings(autoplat_database_url, tmp_path / "a", credits_enabled=False, **smtp)
    second = make_settings(autoplat_database_url, tmp_path / "b", credits_enabled=False, **smtp)
    async with Platform(first) as a, Platform(second) as b:
        for user_id in (ALICE, BOB):
            async with client_for(a, user_id) as client:
                assert (await client.post("/api/auth/user")).status_code == 200
        yield a, b


async def _set_limit(platform: Platform, user_id: str, limit: int) -> None:
    prefs = {"email": f"{user_id}@example.com", "preferences": {}, "daily_limit": limit}
    async with client_for(platform, user_id) as client:
        response = await client.post("/api/auth/user/preferences", json=prefs)
        assert response.status_code == 200, response.text


async def test_a_notification_recorded_by_one_process_reaches_another_ones_socket_at_once(
    pair: Pair,
) -> None:
    recorder, server = pair
    ws_url = server.url.replace("http", "ws") + "/ws"

    def socket(user_id: str) -> Any:
        headers = {"Authorization": f"Bearer {make_token(user_id)}"}
        return websockets.connect(ws_url, additional_headers=headers)

    async with socket(ALICE) as alice, socket(BOB) as bob:
        await asyncio.sleep(0.1)  # the listeners are registered once the sockets are accepted
        for n in range(3):
            # Bob's notification first: Alice's socket must skip it and show her own.
            await recorder.notifications.notify(
                BOB, NotificationType.AGENT_APPROVED, {"agent_name": f"Bob's {n}"}
            )
            started = time.perf_counter()
            recorded = await recorder.notifications.notify(
                ALICE, NotificationType.AGENT_APPROVED, {"agent_name": f"Alice's {n}"}
            )
            assert recorded is not None
            message = json.loads(await asyncio.wait_for(alice.recv(), 5))
            # Far sooner than the two-second poll this replaced.
            assert time.perf_counter() - started < 0.5
            assert message["method"] == "notification"
            assert message["data"]["id"] == recorded["id"]
            assert message["data"]["data"] == {"agent_name": f"Alice's {n}"}
        received_by_bob = [json.loads(await asyncio.wait_for(bob.recv(), 5)) for _ in range(3)]
        assert [m["data"]["data"]["agent_name"] for m in received_by_bob] == [
            "Bob's 0",
            "Bob's 1",
            "Bob's 2",
        ]
        # Each once: nothing more arrives on either socket.
        for ws in (alice, bob):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)


async def test_two_processes_sending_one_users_email_at_once_keep_the_daily_limit_exactly(
    pair: Pair, mailbox_and_port: tuple[Mailbox, int]
) -> None:
    a, b = pair
    mailbox = mailbox_and_port[0]
    await _set_limit(a, ALICE, 3)
    for n in range(12):
        recorded = await a.notifications.notify(
            ALICE, NotificationType.AGENT_APPROVED, {"agent_name": f"Agent {n}"}
        )
        assert recorded is not None
    # Both processes' senders at once (their background loops join in too).
    await asyncio.gather(*(p.notifications.send_pending() for p in (a, b, a, b)))
    deadline = time.monotonic() + 10
    while True:
        emails = await a.db.outbox.emails_for(ALICE)
        statuses = sorted(e["status"] for e in emails)
        if "PENDING" not in statuses and "SENDING" not in statuses:
            break
        assert time.monotonic() < deadline, statuses
        await asyncio.sleep(0.05)
    assert statuses.count("SENT") == 3 and statuses.count("SKIPPED") == 9
    assert len(mailbox.messages) == 3
    # Another user's limit is their own.
    await _set_limit(a, BOB, 2)
    await b.notifications.notify(BOB, NotificationType.AGENT_APPROVED, {"agent_name": "B"})
    await asyncio.gather(a.notifications.send_pending(), b.notifications.send_pending())
    assert [e["status"] for e in await a.db.outbox.emails_for(BOB)] == ["SENT"]


async def test_a_notification_recorded_while_the_listener_reconnects_still_arrives(
    pair: Pair, autoplat_database_url: str
) -> None:
    recorder, server = pair
    ws_url = server.url.replace("http", "ws") + "/ws"
    headers = {"Authorization": f"Bearer {make_token(ALICE)}"}
    admin = await asyncpg.connect(asyncpg_dsn(autoplat_database_url))
    try:
        async with websockets.connect(ws_url, additional_headers=headers) as alice:
            await asyncio.sleep(0.1)
            # The notification listeners' connections drop (a network cut, say): what is
            # recorded before they are back is not heard, and is read when they reconnect.
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %notifications%'"
            )
            assert killed == 2  # one per platform
            recorded = await recorder.notifications.notify(
                ALICE, NotificationType.AGENT_APPROVED, {"agent_name": "while away"}
            )
            assert recorded is not None
            message = json.loads(await asyncio.wait_for(alice.recv(), 10))
            assert message["data"]["id"] == recorded["id"]
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(alice.recv(), 0.5)
    finally:
        await admin.close()
