"""One dedicated asyncpg connection that LISTENs for wake-ups, stop requests and events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from autoplat.db.types import utcnow
from autoplat.logging import get_logger

log = get_logger("autoplat.executions.pglisten")
Handler = Callable[[str], None]
RECONNECT_DELAY = 0.25
#: How long before the loss was noticed its notifications may already have gone unheard.
LOST_MARGIN = timedelta(seconds=2)
NOTIFY_SQL = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p"


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """A plain ``postgresql://`` DSN for asyncpg from a SQLAlchemy URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgListener:
    """Calls ``handlers[channel](payload)`` for each NOTIFY; reconnects when the link drops."""

    def __init__(
        self,
        dsn: str,
        handlers: Mapping[str, Handler],
        *,
        on_reconnect: Callable[[datetime], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.handlers = dict(handlers)
        self.on_reconnect = on_reconnect
        self._conn: Any = None
        self._lost = asyncio.Event()

    async def connect(self) -> None:
        """Open the connection and LISTEN on every channel."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "autoplat"})
        for channel in self.handlers:
            await conn.add_listener(channel, self._dispatch)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._conn = conn
        self._lost.clear()

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        handler = self.handlers.get(channel)
        if handler is None:
            return
        try:
            handler(payload)
        except Exception:
            log.exception("listen.handler_failed", channel=channel)

    async def notify(self, channel: str, payloads: list[str]) -> bool:
        """Send NOTIFY payloads on this connection (one round trip, committed at once).

        False when the connection is down: the caller sends them another way.
        """
        conn = self._conn
        if conn is None or conn.is_closed() or self._lost.is_set():
            return False
        await conn.execute(NOTIFY_SQL, channel, payloads)
        return True

    async def watch(self) -> None:
        """Reconnect whenever the connection is lost (runs until cancelled).

        ``on_reconnect`` gets the moment the connection went (minus a margin): what other
        processes announced since then was not heard.
        """
        while True:
            await self._lost.wait()
            lost_at = utcnow() - LOST_MARGIN
            log.warning("listen.lost")
            while True:
                await asyncio.sleep(RECONNECT_DELAY)
                try:
                    await self.connect()
                except Exception as exc:  # the database may be restarting; keep trying
                    log.warning("listen.reconnect_failed", error=str(exc))
                    continue
                log.info("listen.reconnected")
                if self.on_reconnect is not None:
                    self.on_reconnect(lost_at)
                break

    async def close(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:
                conn.terminate()
