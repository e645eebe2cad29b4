"""Fixtures of the chaos tests: one PostgreSQL server of their own for the session (so a
test may restart it and read its log), a fresh migrated database per test, and the
serving processes a test starts, all stopped at the end whatever the outcome.

The server logs lock waits (``log_lock_waits``, ``deadlock_timeout=100ms``): a deadlock
costs a tenth of a second instead of a second, and every one is in the log.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from autoplat.testing import PG_ENV, DatabaseFactory
from tests.chaos.harness import PG_BIN, PrivatePostgres, Servers

CHAOS_PG_SETTINGS = {
    "max_connections": "300",
    "log_lock_waits": "on",
    "deadlock_timeout": "100ms",
    "log_line_prefix": "'%m [%p] '",
    # Durability is not what these tests are about (PostgreSQL is restarted cleanly).
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@pytest.fixture(scope="session")
def chaos_pg() -> Iterator[PrivatePostgres]:
    """The session's own PostgreSQL server."""
    if not os.environ.get(PG_ENV) or PG_BIN is None:
        pytest.skip("chaos tests need PostgreSQL and its server binaries")
    cluster = PrivatePostgres(CHAOS_PG_SETTINGS)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def chaos_db_factory(
    chaos_pg: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseFactory]:
    """Migrated databases on the chaos server, cloned from a template migrated once."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("chaos-db"), chaos_pg.admin_url)
    factory.prepare()
    yield factory


@pytest.fixture
async def chaos_db(chaos_db_factory: DatabaseFactory) -> AsyncIterator[str]:
    """A fresh, migrated database on the chaos server for one test (SQLAlchemy URL)."""
    url = await chaos_db_factory.create()
    yield url
    # The server may have just been restarted: retry the drop briefly.
    for attempt in range(20):
        try:
            await chaos_db_factory.drop(url)
            return
        except Exception:
            await asyncio.sleep(0.25 * (attempt + 1))


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Start ``autoplat serve`` processes; every one is stopped when the test ends."""
    pool = Servers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
