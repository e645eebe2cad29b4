"""Turning due fire times into runs: claim each (schedule, fire time) once, then submit.

On PostgreSQL a batch runs in one transaction: the fire rows are inserted with
``ON CONFLICT DO NOTHING`` and only the fires this process inserted create runs, through the
same connection, so a fire is recorded exactly when its run is. If anything in a batch fails
at the database, the batch rolls back and its fires are retried one transaction each.

On SQLite (one connection per process) ``executions.submit`` needs a connection of its own,
so a batch is claimed first (status FIRING), then each run is submitted, then the fires are
completed. A crash between those steps leaves FIRING rows, which ``recover`` settles at the
next start: linked to the run if it was created, submitted now if still inside the grace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.schedules import FireOutcome, ScheduleRecord
from autoplat.errors import AutoplatError, NotFound, ValidationFailed
from autoplat.logging import get_logger

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager
    from autoplat.executions.manager import ExecutionManager

log = get_logger("autoplat.scheduler")

FIRING = "FIRING"
FIRED = "FIRED"
FAILED = "FAILED"
MISSED = "MISSED"


class FireSink(Protocol):
    """Creates the run of one fire (inside ``conn``'s transaction when given); returns its id."""

    async def __call__(
        self, conn: AsyncConnection | None, schedule: ScheduleRecord, fire_time: datetime
    ) -> str:
        """Create the run of ``schedule`` for ``fire_time``."""
        ...


class ExecutionSink:
    """The default sink: queue a graph run through the execution manager."""

    def __init__(self, executions: ExecutionManager) -> None:
        self.executions = executions

    async def __call__(
        self, conn: AsyncConnection | None, schedule: ScheduleRecord, fire_time: datetime
    ) -> str:
        """Submit the schedule's graph version with its inputs."""
        return await self.executions.submit(
            user_id=schedule.user_id,
            graph_id=schedule.graph_id,
            graph_version=schedule.graph_version,
            inputs=schedule.inputs,
            schedule_id=schedule.id,
            conn=conn,
        )


@dataclass
class BatchResult:
    """What a batch did, for the scheduler's bookkeeping and logs."""

    fired: int = 0
    failed: int = 0
    lost: int = 0
    gone: set[str] = field(default_factory=set)
    lags: list[float] = field(default_factory=list)

    def count(self, outcome: FireOutcome, now: datetime) -> None:
        """Add one outcome."""
        if outcome.status == FIRED:
            self.fired += 1
            self.lags.append((now - outcome.fire_time).total_seconds())
        else:
            self.failed += 1


NextFire = Callable[[str, datetime], datetime | None]
Broken = tuple[str, str]  # (schedule id, why it is paused)


class FireBatcher:
    """Claims and fires batches of (schedule id, fire time) pairs."""

    def __init__(self, db: DatabaseManager, sink: FireSink, *, atomic: bool) -> None:
        self.db = db
        self.sink = sink
        self.atomic = atomic

    async def fire(
        self,
        due: Sequence[tuple[str, datetime]],
        next_fire: NextFire,
        now: Callable[[], datetime],
    ) -> BatchResult:
        """Fire ``due`` once each."""
        result = BatchResult()
        if not self.atomic:
            await self._fire_in_steps(due, next_fire, now, result)
            return result
        try:
            await self._fire_in_one_tx(due, next_fire, now, result)
            return result
        except Exception as exc:  # a driver or sink failure rolls the batch back: retry apart
            log.warning("schedule.batch_failed", fires=len(due), error=str(exc)[:300])
        result = BatchResult()
        for item in due:
            try:
                await self._fire_in_one_tx([item], next_fire, now, result)
            except Exception as exc:  # this one fire is broken: record it so it is not retried
                log.error("schedule.fire_failed", schedule_id=item[0], error=str(exc)[:300])
                await self._record_failure(item, next_fire(*item), f"internal error: {exc}")
                result.failed += 1
        return result

    async def record_missed(
        self, missed: Sequence[tuple[str, datetime]], next_fire: NextFire
    ) -> int:
        """Record fires skipped for being later than the grace period; return how many."""
        store = self.db.schedules
        async with self.db.begin() as conn:
            won = await store.claim_fires(conn, missed, status=MISSED)
            await store.advance(conn, [(sid, None, next_fire(sid, t)) for sid, t in won])
        return len(won)

    async def _fire_in_one_tx(
        self,
        due: Sequence[tuple[str, datetime]],
        next_fire: NextFire,
        now: Callable[[], datetime],
        result: BatchResult,
    ) -> None:
        store = self.db.schedules
        async with self.db.begin() as conn:
            active = await store.active_among(conn, sorted({sid for sid, _ in due}))
            result.gone |= {sid for sid, _ in due if sid not in active}
            candidates = [(sid, t) for sid, t in due if sid in active]
            won = await store.claim_fires(conn, candidates, status=FIRING)
            result.lost += len(candidates) - len(won)
            outcomes: list[FireOutcome] = []
            broken: list[Broken] = []
            for sid, fire_time in sorted(won):
                outcome = await self._submit(conn, active[sid], fire_time, broken)
                outcomes.append(outcome)
                result.count(outcome, now())
            await self._settle(conn, outcomes, broken, next_fire)

    async def _fire_in_steps(
        self,
        due: Sequence[tuple[str, datetime]],
        next_fire: NextFire,
        now: Callable[[], datetime],
        result: BatchResult,
    ) -> None:
        store = self.db.schedules
        async with self.db.begin() as conn:
            active = await store.active_among(conn, sorted({sid for sid, _ in due}))
            result.gone |= {sid for sid, _ in due if sid not in active}
            candidates = [(sid, t) for sid, t in due if sid in active]
            won = await store.claim_fires(conn, candidates, status=FIRING)
            result.lost += len(candidates) - len(won)
        outcomes: list[FireOutcome] = []
        broken: list[Broken] = []
        for sid, fire_time in sorted(won):
            outcome = await self._submit_alone(active[sid], fire_time, broken)
            outcomes.append(outcome)
            result.count(outcome, now())
        async with self.db.begin() as conn:
            await self._settle(conn, outcomes, broken, next_fire)

    async def _settle(
        self,
        conn: AsyncConnection,
        outcomes: list[FireOutcome],
        broken: list[Broken],
        next_fire: NextFire,
    ) -> None:
        store = self.db.schedules
        for sid, reason in broken:
            await store.pause_broken(conn, sid, reason)
        await store.complete_fires(conn, outcomes)
        moves = [
            (o.schedule_id, o.fire_time, next_fire(o.schedule_id, o.fire_time)) for o in outcomes
        ]
        await store.advance(conn, moves)

    async def _submit_alone(
        self, schedule: ScheduleRecord, fire_time: datetime, broken: list[Broken]
    ) -> FireOutcome:
        try:
            return await self._submit(None, schedule, fire_time, broken)
        except Exception as exc:  # claimed already: record the failure instead of retrying
            log.error("schedule.fire_failed", schedule_id=schedule.id, error=str(exc)[:300])
            return FireOutcome(schedule.id, fire_time, FAILED, error=f"internal error: {exc}")

    async def _submit(
        self,
        conn: AsyncConnection | None,
        schedule: ScheduleRecord,
        fire_time: datetime,
        broken: list[Broken],
    ) -> FireOutcome:
        try:
            run_id = await self.sink(conn, schedule, fire_time)
        except NotFound as exc:
            # The graph version is gone: the schedule can never run again.
            log.warning("schedule.graph_gone", schedule_id=schedule.id, error=exc.message)
            broken.append((schedule.id, f"graph is gone: {exc.message}"))
            return FireOutcome(schedule.id, fire_time, FAILED, error=exc.message)
        except ValidationFailed as exc:
            log.warning("schedule.paused_invalid", schedule_id=schedule.id, error=exc.message)
            broken.append((schedule.id, f"graph no longer validates: {exc.message}"))
            return FireOutcome(schedule.id, fire_time, FAILED, error=exc.message)
        except AutoplatError as exc:  # e.g. no credits left: this fire fails, later ones may run
            log.warning("schedule.fire_rejected", schedule_id=schedule.id, code=exc.code)
            return FireOutcome(schedule.id, fire_time, FAILED, error=f"{exc.code}: {exc.message}")
        return FireOutcome(schedule.id, fire_time, FIRED, graph_exec_id=run_id)

    async def _record_failure(
        self, item: tuple[str, datetime], nxt: datetime | None, error: str
    ) -> None:
        store = self.db.schedules
        try:
            async with self.db.begin() as conn:
                won = await store.claim_fires(conn, [item], status=FAILED)
                if won:
                    outcome = FireOutcome(*item, FAILED, error=error[:2000])
                    await store.complete_fires(conn, [outcome])
                    await store.advance(conn, [(item[0], item[1], nxt)])
        except Exception as exc:  # the database itself is failing; the log is all we have
            log.error("schedule.fire_unrecorded", schedule_id=item[0], error=str(exc)[:300])

    async def recover(self, now: datetime, grace: float) -> int:
        """Settle fires left FIRING by a crash between claim and completion; return how many."""
        store = self.db.schedules
        pending = await store.interrupted_fires()
        outcomes: list[FireOutcome] = []
        broken: list[Broken] = []
        for fire in pending:
            run_id = await store.run_of_fire(fire.schedule_id, fire.created_at)
            if run_id is not None:
                outcomes.append(FireOutcome(fire.schedule_id, fire.fire_time, FIRED, run_id))
                continue
            schedule = await store.get(fire.schedule_id)
            late = (now - fire.fire_time) > timedelta(seconds=grace)
            if schedule is None or late:
                outcomes.append(FireOutcome(fire.schedule_id, fire.fire_time, MISSED))
                continue
            outcomes.append(await self._submit_alone(schedule, fire.fire_time, broken))
        if outcomes:
            async with self.db.begin() as conn:
                for sid, reason in broken:
                    await store.pause_broken(conn, sid, reason)
                await store.complete_fires(conn, outcomes)
            log.warning("schedule.recovered", fires=len(outcomes))
        return len(outcomes)
