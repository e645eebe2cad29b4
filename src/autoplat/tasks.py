"""Owned background tasks: named, logged when they fail, stopped with a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from autoplat.logging import get_logger

log = get_logger("autoplat.tasks")


class TaskOwner:
    """Owns a set of background tasks on behalf of one component."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start ``coro`` as a named task owned by this component."""
        task = asyncio.create_task(coro, name=f"{self.owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

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
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            log.warning("tasks.cancelled", owner=self.owner, count=len(still))
            await asyncio.wait(still, timeout=max(1.0, timeout / 2))

    async def cancel_all(self, timeout: float = 5.0) -> None:
        """Cancel every task now and wait for them to finish unwinding."""
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=timeout)
