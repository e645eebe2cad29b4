"""Group commit for submissions: concurrent submits share one INSERT transaction.

The first submit writes at once; submits that arrive while that transaction is in flight
are written together by the next one. A lone submit waits for nothing, and under load the
database sees one transaction per batch instead of one per run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autoplat.db.executions import ExecutionStore
from autoplat.tasks import TaskOwner

Pending = tuple[dict[str, Any], Sequence[Mapping[str, Any]], asyncio.Future[None]]
#: Decides, inside the write transaction, which runs this process starts at once.
Starter = Callable[[list[dict[str, Any]], dict[str, int]], None]
#: Undoes a Starter's reservations when the transaction fails.
Releaser = Callable[[list[dict[str, Any]]], None]


class SubmitBatcher:
    """Writes new runs and their first node executions in shared transactions."""

    def __init__(
        self,
        store: ExecutionStore,
        tasks: TaskOwner,
        *,
        starter: Starter | None = None,
        releaser: Releaser | None = None,
        user_cap: int | None = None,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.starter = starter
        self.releaser = releaser
        self.user_cap = user_cap
        self._pending: list[Pending] = []
        self._writing = False

    async def insert(self, run: dict[str, Any], nodes: Sequence[Mapping[str, Any]]) -> None:
        """Return once the run is durable (or raise the reason it could not be written).

        The starter may have set ``run["status"]`` to RUNNING: the caller then runs it.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((run, nodes, done))
        if not self._writing:
            self._writing = True
            self.tasks.spawn("submit-writer", self._write())
        await done

    async def _write(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._write_batch(batch)
        finally:
            self._writing = False

    async def _write_batch(self, batch: list[Pending]) -> None:
        runs = [run for run, _, _ in batch]
        starter = self.starter

        def start(running: dict[str, int]) -> None:
            if starter is not None:
                starter(runs, running)

        try:
            demoted = await self.store.insert_runs(
                [(run, nodes) for run, nodes, _ in batch], start=start, user_cap=self.user_cap
            )
        except Exception as exc:
            if self.releaser is not None:
                self.releaser(runs)
            if len(batch) == 1:
                _settle(batch[0][2], exc)
                return
            # One bad run must not fail the others: write them one by one.
            for item in batch:
                await self._write_batch([item])
            return
        if demoted and self.releaser is not None:
            # Written QUEUED (the user's cap was reached elsewhere): the claimers take them.
            self.releaser(demoted)
        for _, _, done in batch:
            _settle(done, None)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)
