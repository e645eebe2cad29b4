"""Flusher: writes every run's buffered changes of this process, one statement at a time.

Runs mark themselves dirty; while a write is in flight new changes pile up, and the next
write takes them all, up to ``FLUSH_BYTES`` (the rest waits for the next one). Events are
published only once their rows are durable.

A write that fails is told apart: when the database is unreachable the whole batch is
retried with backoff; otherwise the batch is split in halves until the run whose data
cannot be stored stands alone, and that run alone fails (``on_poison``): one bad row
never stalls the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc

from autoplat.db.executions import ExecutionStore
from autoplat.errors import DatabaseUnavailable
from autoplat.executions.events import (
    EVENTS_CHANNEL,
    EventBus,
    ExecutionEvent,
    encode_notifications,
)
from autoplat.executions.journal import JournalPart
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.executions.run import GraphRun

log = get_logger("autoplat.executions.flusher")
RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 5.0
COALESCE_TURNS = 4
#: Bytes one write carries at most (a run's part may be cut to fit; it goes on next time).
FLUSH_BYTES = 8_000_000

Part = tuple["GraphRun", JournalPart]


def unreachable(exc: BaseException) -> bool:
    """Whether a failed write says the database is out of reach (not that the data is bad)."""
    if isinstance(exc, DatabaseUnavailable | OSError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError)


class Flusher:
    """The write-behind buffer of one process."""

    def __init__(
        self,
        store: ExecutionStore,
        bus: EventBus,
        *,
        owner: str,
        lease_seconds: float,
        on_poison: Callable[[GraphRun, str], None] | None = None,
        notifier: Callable[[str, list[str]], Awaitable[bool]] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._pending: dict[str, GraphRun] = {}
        self._wake = asyncio.Event()
        self._outbox: list[str] = []
        self._outbox_wake = asyncio.Event()
        self._delay = RETRY_DELAY
        self.flushes = 0
        #: Sends NOTIFY payloads over a connection of its own; False when it cannot (the
        #: store's pool sends them then).
        self.notifier = notifier
        #: Told of a run whose rows cannot be stored (with a reason safe to show).
        self.on_poison = on_poison or (lambda run, reason: None)

    def mark(self, run: GraphRun) -> None:
        """``run`` has changes to write."""
        self._pending[run.id] = run
        self._wake.set()

    async def run_forever(self) -> None:
        """Flush whenever something is pending, one write at a time."""
        while True:
            await self._wake.wait()
            # A few turns of the loop (microseconds) let the changes that follow from this
            # one (a quick node ends, its run finishes) join the same write.
            for _ in range(COALESCE_TURNS):
                await asyncio.sleep(0)
            self._wake.clear()
            if self._pending:
                await self.flush_once()

    async def flush_once(self) -> None:
        """Write what is pending now (up to FLUSH_BYTES; the rest stays pending)."""
        batch, self._pending = self._pending, {}
        parts: list[Part] = []
        budget = FLUSH_BYTES
        for run_id, run in batch.items():
            if run.lost:
                continue
            if budget <= 0:
                self._pending[run_id] = run
                continue
            part = run.collect(budget)
            budget -= part.size
            parts.append((run, part))
        if parts and not await self._write(parts):
            for run, _ in parts:
                if not run.lost:
                    self._pending.setdefault(run.id, run)
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, MAX_RETRY_DELAY)
        if self._pending:
            self._wake.set()

    async def _write(self, parts: list[Part]) -> bool:
        """Write ``parts``; False when the database is unreachable (retry them all)."""
        sent_at = asyncio.get_running_loop().time()
        try:
            held = await self.store.write(
                self.owner,
                lease_seconds=self.lease_seconds,
                fences=[(run.id, run.epoch) for run, _ in parts],
                nodes=[n for _, part in parts for n in part.nodes],
                runs=[part.run for _, part in parts if part.run is not None],
            )
        except Exception as exc:
            if unreachable(exc):
                log.warning("flush.unreachable", runs=len(parts), error=type(exc).__name__)
                return False
            if len(parts) > 1:
                # Some run's data cannot be stored: find it by halves, write the others.
                half = len(parts) // 2
                first = await self._write(parts[:half])
                return await self._write(parts[half:]) and first
            run = parts[0][0]
            log.error("flush.poison", graph_exec_id=run.id, exc_info=exc)
            self.on_poison(run, _kind(exc))
            return True
        self._delay = RETRY_DELAY
        self.flushes += 1
        published: list[ExecutionEvent] = []
        for run, part in parts:
            if run.id in held:
                published.extend(part.events)
                run.flushed(part, held[run.id], sent_at)
            else:
                run.lease_lost()
        self.bus.publish(published)
        if published and self.store.db.is_postgres:
            # Other processes hear of it by NOTIFY, sent after the commit and off the path
            # of this process's own subscribers (one sender keeps the order).
            self._outbox.extend(encode_notifications(self.owner, published))
            self._outbox_wake.set()
        return True

    async def send_notifications_forever(self) -> None:
        """Send queued NOTIFY payloads, in order, in as few statements as possible."""
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending and loop.time() < deadline:
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await self.flush_once()
            except TimeoutError:
                break
        payloads, self._outbox = self._outbox, []
        if payloads and loop.time() < deadline:
            try:
                async with asyncio.timeout(max(0.1, deadline - loop.time())):
                    await self.store.notify(EVENTS_CHANNEL, payloads)
            except Exception:
                log.warning("notify.failed", payloads=len(payloads), exc_info=True)


def _kind(exc: BaseException) -> str:
    """What went wrong, by the driver's error class only: a message may quote the data."""
    if isinstance(exc, sa_exc.DBAPIError):
        inner = exc.orig.__cause__ if exc.orig is not None and exc.orig.__cause__ else exc.orig
        return type(inner).__name__
    return type(exc).__name__
