"""Group commit for submissions: concurrent submits share one write.

The first submit writes at once; submits that arrive while that write is in flight are
written together by the next one. A lone submit waits for nothing, and under load the
database sees one transaction per batch instead of one per run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from autoplat.db.executions import ExecutionStore
from autoplat.db.rows import NodeRow, RunRow
from autoplat.tasks import TaskOwner

Pending = tuple[RunRow, Sequence[NodeRow], asyncio.Future[None]]
#: Decides, inside the write, which runs this process starts at once.
Starter = Callable[[Sequence[RunRow], dict[str, int]], None]
#: Undoes a Starter's reservations (the write failed, or demoted the runs).
Releaser = Callable[[Sequence[RunRow]], None]


class SubmitBatcher:
    """Writes new runs and their first node executions in shared writes."""

    def __init__(
        self,
        store: ExecutionStore,
        tasks: TaskOwner,
        *,
        starter: Starter,
        releaser: Releaser,
        user_cap: int,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.starter = starter
        self.releaser = releaser
        self.user_cap = user_cap
        self._pending: list[Pending] = []
        self._writing = False

    async def insert(self, run: RunRow, nodes: Sequence[NodeRow]) -> None:
        """Return once the run is durable (or raise the reason it could not be written).

        The starter may have set ``run.status`` to RUNNING: the caller then runs it.
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
        try:
            demoted = await self.store.submit(
                runs,
                [n for _, nodes, _ in batch for n in nodes],
                start=lambda running: self.starter(runs, running),
                user_cap=self.user_cap,
            )
        except Exception as exc:
            self.releaser(runs)
            if len(batch) == 1:
                _settle(batch[0][2], exc)
                return
            # One bad run must not fail the others: write them one by one.
            for item in batch:
                await self._write_batch([item])
            return
        if demoted:
            # Written QUEUED (the user's cap was reached elsewhere): the claimers take them.
            self.releaser([run for run in runs if run.id in demoted])
        for _, _, done in batch:
            _settle(done, None)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)
