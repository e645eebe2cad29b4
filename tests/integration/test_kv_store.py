"""The key-value store: AutoGPT's get/set_execution_kv_data semantics, per user, bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from autoplat.db.kv import KeyValueQuotaExceeded, KeyValueTooLarge
from autoplat.db.manager import DatabaseManager
from autoplat.testing import make_settings


@pytest.fixture
async def db(autoplat_database_url: str, tmp_path: Path) -> AsyncIterator[DatabaseManager]:
    manager = DatabaseManager(
        make_settings(autoplat_database_url, tmp_path, kv_max_value_bytes=1000, kv_max_keys=3)
    )
    await manager.connect()
    for user in ("alice", "bob"):
        await manager.users.ensure(user)
    try:
        yield manager
    finally:
        await manager.disconnect()


async def test_set_then_get_upserts_per_user(db: DatabaseManager) -> None:
    kv = db.kv
    assert await kv.get_execution_kv_data("alice", "agent#g#k") is None
    assert await kv.set_execution_kv_data("alice", "n1", "agent#g#k", {"a": [1, 2]}) == {
        "a": [1, 2]
    }
    assert await kv.set_execution_kv_data("alice", "n2", "agent#g#k", "second") == "second"
    assert await kv.get_execution_kv_data("alice", "agent#g#k") == "second"
    # Two users, one key: neither sees the other's value.
    assert await kv.get_execution_kv_data("bob", "agent#g#k") is None
    await kv.set_execution_kv_data("bob", "n3", "agent#g#k", "bob's")
    assert await kv.get_execution_kv_data("alice", "agent#g#k") == "second"
    assert await kv.get_execution_kv_data("bob", "agent#g#k") == "bob's"


async def test_falsy_values_read_back_as_none_like_autogpt(db: DatabaseManager) -> None:
    falsy: tuple[Any, ...] = (0, "", [], False, None)
    for value in falsy:
        assert await db.kv.set_execution_kv_data("alice", "n", "global#z", value) is None
        assert await db.kv.get_execution_kv_data("alice", "global#z") is None
    view = db.kv.for_node("alice", "n9")
    assert await view.set("global#z", 7) == 7
    assert await view.get("global#z") == 7


async def test_values_are_storable_and_bounded(db: DatabaseManager) -> None:
    # NUL characters are replaced on the way in (PostgreSQL refuses them in JSONB).
    await db.kv.set_execution_kv_data("alice", "n", "global#nul", {"t": "a\x00b"})
    stored = await db.kv.get_execution_kv_data("alice", "global#nul")
    assert isinstance(stored, dict) and "\x00" not in stored["t"]
    with pytest.raises(KeyValueTooLarge, match="at most 1000"):
        await db.kv.set_execution_kv_data("alice", "n", "global#big", "x" * 2000)
    with pytest.raises(KeyValueTooLarge, match="longer than"):
        await db.kv.set_execution_kv_data("alice", "n", "k" * 2000, 1)
    await db.kv.set_execution_kv_data("alice", "n", "global#2", 1)
    await db.kv.set_execution_kv_data("alice", "n", "global#3", 1)  # the third key
    with pytest.raises(KeyValueQuotaExceeded, match="at most 3 keys"):
        await db.kv.set_execution_kv_data("alice", "n", "global#4", 1)
    # Updating a key it holds is always allowed; another user has their own quota.
    await db.kv.set_execution_kv_data("alice", "n", "global#2", 2)
    await db.kv.set_execution_kv_data("bob", "n", "global#3", 1)
