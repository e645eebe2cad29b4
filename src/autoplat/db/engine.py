"""The async SQLAlchemy engine for each dialect."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from autoplat.config import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the engine for the configured database (no connection is made yet)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_recycle=1800,
        connect_args={"timeout": 10, "server_settings": {"application_name": "autoplat"}},
    )


def create_private(path: Path) -> None:
    """Create ``path`` (and its folder) readable by this user only, unless it exists.

    An SQLite database holds hashed API keys, encrypted credentials and e-mail addresses;
    SQLite gives its WAL and shared-memory files the database file's mode, so they follow.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _sqlite_engine(url: str) -> AsyncEngine:
    database = make_url(url).database
    memory = not database or database == ":memory:"
    if not memory:
        assert database is not None
        create_private(Path(database))
    # One connection per process: SQLite allows one writer, so funnelling every transaction
    # through a single connection means load queues in the pool instead of failing with
    # "database is locked".
    engine = create_async_engine(
        url,
        poolclass=StaticPool if memory else None,
        **({} if memory else {"pool_size": 1, "max_overflow": 0, "pool_timeout": 120}),
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction never
        # fails half-way when another process (a CLI command) writes at the same time.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
