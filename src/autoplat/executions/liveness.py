"""Worker records and liveness locks: how a process knows another one is gone.

Every process start gets a new worker id (never reused: two containers with the same host
name and port are two workers) and a ``workers`` record. While it lives it holds a
liveness lock: a PostgreSQL session advisory lock on a connection of its own, or on
SQLite (one machine) an exclusive ``flock`` on a file beside the database. A starting
process buries every record whose lock is free, and expires the leases of its runs so
they are claimed at once: a restarted server resumes its work without waiting for the
leases to lapse, and a live process is never mistaken for a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import uuid
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from autoplat.config import Settings
from autoplat.db.manager import DatabaseManager
from autoplat.db.rows import WorkerRow
from autoplat.db.types import utcnow
from autoplat.logging import get_logger

log = get_logger("autoplat.executions.liveness")
LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def new_worker_id() -> str:
    """A process identity no other process start shares."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def instance_name(settings: Settings) -> str:
    """Where this process runs, for the operator (host and port)."""
    return f"{socket.gethostname()}:{settings.port}"


class Liveness:
    """This process's worker record and liveness lock, and the check of others'."""

    def __init__(self, settings: Settings, db: DatabaseManager, worker_id: str) -> None:
        self.settings = settings
        self.db = db
        self.worker_id = worker_id
        self._conn: Any = None
        self._file: IO[bytes] | None = None

    async def start(self) -> int:
        """Take the lock, record this worker, bury dead ones; return runs handed back."""
        if self.db.is_postgres:
            await self._pg_connect()
        else:
            self._file = _flock(self._lock_path(self.worker_id), blocking=True)
        await self.db.workers.register(
            WorkerRow(
                id=self.worker_id,
                instance=instance_name(self.settings),
                pid=os.getpid(),
                started_at=utcnow(),
            )
        )
        return await self.bury_dead()

    async def bury_dead(self) -> int:
        """Mark records whose process is gone as stopped and expire their leases."""
        dead = [
            w.id
            for w in await self.db.workers.live_others(self.worker_id)
            if await self._gone(w.id)
        ]
        if not dead:
            return 0
        adopted = await self.db.executions.expire_leases(dead)
        await self.db.workers.mark_stopped(dead)
        log.info("workers.buried", workers=len(dead), runs=adopted)
        return adopted

    async def stop(self) -> None:
        """Record the stop and release the lock."""
        with contextlib.suppress(Exception):
            await self.db.workers.mark_stopped([self.worker_id])
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
        if self._file is not None:
            file, self._file = self._file, None
            file.close()
            with contextlib.suppress(OSError):
                self._lock_path(self.worker_id).unlink()

    async def keep(self) -> None:
        """Hold the PostgreSQL lock across reconnects (runs until cancelled)."""
        while True:
            await asyncio.sleep(1.0)
            if self._conn is None or self._conn.is_closed():
                try:
                    await self._pg_connect()
                except Exception as exc:  # the database may be restarting; keep trying
                    log.warning("liveness.reconnect_failed", error=str(exc))

    # --- PostgreSQL ----------------------------------------------------------------------

    async def _pg_connect(self) -> None:
        import asyncpg

        url = make_url(self.settings.resolved_database_url).set(drivername="postgresql")
        conn = await asyncpg.connect(
            url.render_as_string(hide_password=False),
            server_settings={"application_name": "autoplat-liveness"},
        )
        if not await conn.fetchval(LOCK_SQL, self.worker_id):
            await conn.close()
            raise RuntimeError(f"worker id {self.worker_id} is locked by another process")
        self._conn = conn

    async def _gone(self, worker_id: str) -> bool:
        if self.db.is_postgres:
            conn = self._conn
            if conn is None or conn.is_closed():
                return False
            if not await conn.fetchval(LOCK_SQL, worker_id):
                return False
            await conn.fetchval(UNLOCK_SQL, worker_id)
            return True
        path = self._lock_path(worker_id)
        try:
            handle = _flock(path, blocking=False)
        except BlockingIOError:
            return False
        handle.close()
        with contextlib.suppress(OSError):
            path.unlink()
        return True

    # --- SQLite --------------------------------------------------------------------------

    def _lock_path(self, worker_id: str) -> Path:
        database = make_url(self.settings.resolved_database_url).database or "autoplat.db"
        folder = Path(f"{database}.workers")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{worker_id.replace(':', '_').replace('/', '_')}.lock"


def _flock(path: Path, *, blocking: bool) -> IO[bytes]:
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BaseException:
        handle.close()
        raise
    return handle
