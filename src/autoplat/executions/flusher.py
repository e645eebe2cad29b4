"""Flusher: writes every run's buffered changes of this process in ONE transaction at a time.

Runs mark themselves dirty; while a transaction is in flight new changes pile up, and the
next transaction takes them all. Events are published only once their rows are durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from autoplat.db.executions import ExecutionStore
from autoplat.executions.events import (
    EVENTS_CHANNEL,
    EventBus,
    ExecutionEvent,
    encode_notifications,
)
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.executions.executor import GraphRun

log = get_logger("autoplat.executions.flusher")
RETRY_DELAY = 0.5
COALESCE_TURNS = 4


class Flusher:
    """The write-behind buffer of one process."""

    def __init__(
        self, store: ExecutionStore, bus: EventBus, *, owner: str, lease_seconds: float
    ) -> None:
        self.store = store
        self.bus = bus
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._pending: dict[str, GraphRun] = {}
        self._wake = asyncio.Event()
        self._outbox: list[str] = []
        self._outbox_wake = asyncio.Event()
        self.flushes = 0
        #: Sends NOTIFY payloads over a connection of its own; False when it cannot.
        self.notifier: Callable[[str, list[str]], Awaitable[bool]] | None = None

    def mark(self, run: GraphRun) -> None:
        """``run`` has changes to write."""
        self._pending[run.id] = run
        self._wake.set()

    async def run_forever(self) -> None:
        """Flush whenever something is pending, one transaction at a time."""
        while True:
            await self._wake.wait()
            # A few turns of the loop (microseconds) let the changes that follow from this
            # one (a quick node ends, its run finishes) join the same transaction.
            for _ in range(COALESCE_TURNS):
                await asyncio.sleep(0)
            self._wake.clear()
            if self._pending:
                await self.flush_once()

    async def flush_once(self) -> None:
        """Write everything pending now."""
        batch, self._pending = self._pending, {}
        parts = [run.collect() for run in batch.values()]
        nodes = [row for part in parts for row in part.nodes]
        runs = [part.run_row for part in parts if part.run_row is not None]
        try:
            held = await self.store.flush(
                self.owner,
                lease_seconds=self.lease_seconds,
                run_ids=list(batch),
                nodes=nodes,
                runs=runs,
            )
        except Exception:
            log.exception("flush.failed", runs=len(batch))
            for run in batch.values():
                self._pending.setdefault(run.id, run)
            await asyncio.sleep(RETRY_DELAY)
            self._wake.set()
            return
        self.flushes += 1
        published: list[ExecutionEvent] = []
        for part in parts:
            if part.run.id in held:
                published.extend(part.events)
                part.run.flushed(part, held[part.run.id])
            else:
                part.run.lease_lost()
        self.bus.publish(published)
        if published and self.store.db.is_postgres:
            # Other processes hear of it by NOTIFY, sent after the commit and off the path
            # of this process's own subscribers (one sender keeps the order).
            self._outbox.extend(encode_notifications(self.owner, published))
            self._outbox_wake.set()

    async def send_notifications_forever(self) -> None:
        """Send queued NOTIFY payloads, in order, in as few transactions as possible."""
        while True:
            await self._outbox_wake.wait()
            # This process's own subscribers first: their sends and reads take a few turns
            # of the loop, and a NOTIFY's statement costs more CPU than they do.
            for _ in range(COALESCE_TURNS):
                await asyncio.sleep(0)
            self._outbox_wake.clear()
            payloads, self._outbox = self._outbox, []
            if not payloads:
                continue
            try:
                await self._notify(payloads)
            except Exception:
                log.warning("notify.failed", payloads=len(payloads), exc_info=True)

    async def _notify(self, payloads: list[str]) -> None:
        # The listener's connection costs no pool checkout and no SQLAlchemy layers.
        if self.notifier is not None and await self.notifier(EVENTS_CHANNEL, payloads):
            return
        await self.store.notify(EVENTS_CHANNEL, payloads)

    async def drain(self, timeout: float) -> None:
        """Flush what is pending now, and announce it (used when stopping)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._pending and asyncio.get_running_loop().time() < deadline:
            await self.flush_once()
        payloads, self._outbox = self._outbox, []
        if payloads:
            try:
                await self.store.notify(EVENTS_CHANNEL, payloads)
            except Exception:
                log.warning("notify.failed", payloads=len(payloads), exc_info=True)
