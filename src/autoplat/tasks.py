"""Owned background tasks: named, logged with their traceback when they fail, stopped with
a timeout; critical loops are supervised (restarted with backoff) and report their health.

A supervised loop that fails is restarted after a growing delay and counts as failing
until it has run ``STABLE_SECONDS`` again; one that keeps failing ``MAX_FAILURES`` times
in a row (the owner's ``max_failures``: ``AUTOPLAT_LOOP_MAX_FAILURES`` for the execution
core) is given up on and ``on_fatal`` is called (the process then exits non-zero).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from autoplat.logging import get_logger

log = get_logger("autoplat.tasks")
#: Seconds a restarted loop must run without failing to count as healthy again.
STABLE_SECONDS = 5.0
#: Failures in a row (none STABLE_SECONDS apart) after which a loop is given up on, unless
#: its owner names another number.
MAX_FAILURES = 8
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 10.0


@dataclass(slots=True)
class LoopHealth:
    """What a supervised loop's supervisor knows of it."""

    name: str
    failures: int = 0
    failed_at: float | None = None
    gave_up: bool = False

    def failing(self, now: float) -> bool:
        """Whether the loop failed recently (or was given up on)."""
        return self.gave_up or (
            self.failed_at is not None and now - self.failed_at < STABLE_SECONDS
        )


class TaskOwner:
    """Owns a set of background tasks on behalf of one component."""

    def __init__(
        self,
        owner: str,
        *,
        on_fatal: Callable[[str], None] | None = None,
        max_failures: int = MAX_FAILURES,
    ) -> None:
        self.owner = owner
        self.on_fatal = on_fatal
        self.max_failures = max(1, max_failures)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._health: dict[str, LoopHealth] = {}

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start ``coro`` as a named task owned by this component."""
        task = asyncio.create_task(coro, name=f"{self.owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

    def supervise(
        self, name: str, loop: Callable[[], Coroutine[Any, Any, Any]]
    ) -> asyncio.Task[Any]:
        """Run ``loop()`` until it returns: restart it with backoff whenever it fails."""
        health = self._health[name] = LoopHealth(f"{self.owner}:{name}")
        return self.spawn(name, self._supervise(health, loop))

    async def _supervise(
        self, health: LoopHealth, loop: Callable[[], Coroutine[Any, Any, Any]]
    ) -> None:
        clock = asyncio.get_running_loop()
        started = clock.time()
        while True:
            try:
                await loop()
                return  # a loop returns only when its component is stopping
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("loop.failed", loop=health.name)
            now = clock.time()
            if now - started >= STABLE_SECONDS:
                health.failures = 0  # it had recovered since the last failure
            health.failures += 1
            health.failed_at = now
            if health.failures >= self.max_failures:
                health.gave_up = True
                log.critical("loop.gave_up", loop=health.name, failures=health.failures)
                if self.on_fatal is not None:
                    self.on_fatal(health.name)
                return
            await asyncio.sleep(min(FIRST_BACKOFF * 2 ** (health.failures - 1), MAX_BACKOFF))
            started = clock.time()

    def failing(self) -> list[str]:
        """Names of supervised loops that are failing now."""
        now = asyncio.get_running_loop().time()
        return [h.name for h in self._health.values() if h.failing(now)]

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task.failed", task=task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def stop(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the tasks, then cancel what is left."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, still = await asyncio.wait(pending, timeout=max(0.0, timeout))
        for task in still:
            task.cancel()
        if still:
            log.warning("tasks.cancelled", owner=self.owner, count=len(still))
            await asyncio.wait(still, timeout=1.0)

    async def cancel_all(self, timeout: float = 1.0) -> None:
        """Cancel every task now and wait (up to ``timeout``) for them to finish unwinding."""
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=max(0.01, timeout))
