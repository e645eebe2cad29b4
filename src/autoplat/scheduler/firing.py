"""Turning due fire times into runs, each (schedule, fire time) exactly once.

For a batch of due fires: prepare their runs outside any transaction (graphs compiled and
credits checked once per graph and user), build each run, wait for the fire time, then in
ONE transaction insert the
fire rows of the still-active schedules with ``ON CONFLICT DO NOTHING`` and the runs of only
the fires this process inserted. A fire is therefore recorded exactly when its run is, on both
databases, and a second process or a restart cannot repeat it. Within a batch a key is
taken by one plan only (a repeated fire is dropped before its run is built, and the write
claims each key for one plan), so one fire row never stands for two runs. If the
transaction fails, the batch is retried one fire per transaction so that one bad fire
cannot sink the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.manager import DatabaseManager
from autoplat.db.schedules import FireOutcome, ScheduleRecord
from autoplat.db.types import utcnow
from autoplat.errors import AutoplatError, NotFound, ValidationFailed
from autoplat.executions.manager import ExecutionManager
from autoplat.logging import get_logger
from autoplat.scheduler.clock import Clock
from autoplat.scheduler.runs import NewRun, RunMaker
from autoplat.scheduler.timetable import Fire

log = get_logger("autoplat.scheduler")

FIRED = "FIRED"
FAILED = "FAILED"
MISSED = "MISSED"


@dataclass
class BatchResult:
    """What a batch did, for the scheduler's bookkeeping and logs."""

    fired: int = 0
    failed: int = 0
    lost: int = 0
    #: Schedules this batch paused (their graph is gone or no longer validates).
    paused: set[str] = field(default_factory=set)
    #: Schedules found deleted or paused (by another process) when the batch was claimed.
    gone: set[str] = field(default_factory=set)
    #: Fires not written because the database was unavailable: to be tried again.
    retry: list[tuple[str, datetime]] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    #: Seconds spent reading and preparing, building runs, and writing (for the logs).
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Planned:
    outcome: FireOutcome
    run: NewRun | None = None
    pause_reason: str | None = None


class FireBatcher:
    """Claims and fires batches of due (schedule, fire time) pairs."""

    def __init__(self, db: DatabaseManager, executions: ExecutionManager) -> None:
        self.db = db
        self.executions = executions
        # A graph version never changes and the blocks are fixed for the process's life, so
        # a schedule's inputs that passed once pass again: validate each schedule once.
        self._validated: set[str] = set()

    async def fire(
        self, due: Sequence[Fire], clock: Clock, slots: asyncio.Semaphore
    ) -> BatchResult:
        """Fire ``due`` once each (schedules no longer active are skipped by the claim).

        The runs are built at once; they are written when the latest fire time has come,
        holding one of ``slots`` (how many batches may write at once).
        """
        result = BatchResult()
        started = time.perf_counter()
        due = _once_each(due)
        maker = RunMaker(self.executions, validated=self._validated)
        try:
            await maker.prepare(record for record, _ in due)
        except Exception as exc:  # graphs or credits unreadable: the database is away
            log.warning("schedule.database_unavailable", fires=len(due), error=str(exc)[:300])
            result.retry = [(record.id, fire_time) for record, fire_time in due]
            return result
        prepared = time.perf_counter()
        plans = [self._plan(maker, record, fire_time) for record, fire_time in due]
        built = time.perf_counter()
        due_at = max((t for _, t in due), default=None)
        # Sleeps can end a hair early (the loop's clock is not the wall clock): never write
        # a run before its fire time.
        while due_at is not None and (wait := (due_at - clock.now()).total_seconds()) > 0:
            await clock.sleep(wait)
        async with slots:
            ready = time.perf_counter()
            won = await self._commit_all(plans, result.gone, result.retry)
            written = time.perf_counter()
        maker.announce([p.run for p in won if p.run is not None])
        result.timings = {
            "prepare_s": round(prepared - started, 4),
            "build_s": round(built - prepared, 4),
            "write_s": round(written - ready, 4),
        }
        unsettled = result.gone | {sid for sid, _ in result.retry}
        result.lost = sum(1 for p in plans if p.outcome.schedule_id not in unsettled) - len(won)
        result.paused = {p.outcome.schedule_id for p in won if p.pause_reason is not None}
        moment = clock.now()
        for plan in won:
            if plan.outcome.status == FIRED:
                result.fired += 1
                result.lags.append((moment - plan.outcome.fire_time).total_seconds())
            else:
                result.failed += 1
        return result

    async def record_missed(self, missed: Sequence[Fire]) -> int:
        """Record fires skipped for being later than the grace period; return how many."""
        outcomes = [FireOutcome(record.id, t, MISSED) for record, t in missed]
        async with self.db.begin() as conn:
            claim = await self.db.schedules.claim_fires(conn, outcomes)
        return len(claim.claimed)

    def _plan(self, maker: RunMaker, schedule: ScheduleRecord, fire_time: datetime) -> _Planned:
        sid = schedule.id
        try:
            run = maker.build(schedule)
        except NotFound as exc:
            # The graph version is gone: the schedule can never run again.
            log.warning("schedule.graph_gone", schedule_id=sid, error=exc.message)
            outcome = FireOutcome(sid, fire_time, FAILED, error=exc.message)
            return _Planned(outcome, pause_reason=f"graph is gone: {exc.message}")
        except ValidationFailed as exc:
            log.warning("schedule.paused_invalid", schedule_id=sid, error=exc.message)
            outcome = FireOutcome(sid, fire_time, FAILED, error=exc.message)
            return _Planned(outcome, pause_reason=f"graph no longer validates: {exc.message}")
        except AutoplatError as exc:  # e.g. no credits left: this fire fails, later ones may run
            log.warning("schedule.fire_rejected", schedule_id=sid, code=exc.code)
            error = f"{exc.code}: {exc.message}"
            return _Planned(FireOutcome(sid, fire_time, FAILED, error=error))
        return _Planned(FireOutcome(sid, fire_time, FIRED, graph_exec_id=run.id), run=run)

    async def _commit_all(
        self, plans: list[_Planned], gone: set[str], retry: list[tuple[str, datetime]]
    ) -> list[_Planned]:
        try:
            return await self._commit(plans, gone)
        except Exception as exc:  # a driver failure rolled the batch back: retry apart
            log.warning("schedule.batch_failed", fires=len(plans), error=str(exc)[:300])
        try:
            await self.db.health_check()
        except Exception:  # the database is away: try the whole batch again a bit later
            log.warning("schedule.database_unavailable", fires=len(plans))
            retry.extend((p.outcome.schedule_id, p.outcome.fire_time) for p in plans)
            return []
        won: list[_Planned] = []
        for plan in plans:
            won += await self._commit_alone(plan, gone)
        return won

    async def _commit(self, plans: list[_Planned], gone: set[str]) -> list[_Planned]:
        async with self.db.begin() as conn:
            return await self._write(conn, plans, gone)

    async def _commit_alone(self, plan: _Planned, gone: set[str]) -> list[_Planned]:
        try:
            return await self._commit([plan], gone)
        except Exception as exc:  # this fire cannot be written: record it as failed, run-less
            sid, fire_time = plan.outcome.schedule_id, plan.outcome.fire_time
            log.error("schedule.fire_failed", schedule_id=sid, error=str(exc)[:300])
            failed = _Planned(FireOutcome(sid, fire_time, FAILED, error=f"internal error: {exc}"))
            try:
                return await self._commit([failed], gone)
            except Exception as again:  # the database itself is failing; the log is all we have
                log.error("schedule.fire_unrecorded", schedule_id=sid, error=str(again)[:300])
                return []

    async def _write(
        self, conn: AsyncConnection, plans: list[_Planned], gone: set[str]
    ) -> list[_Planned]:
        store = self.db.schedules
        # One plan per key goes to the claim, so a key it inserted names that plan's run and
        # no other: one fire row, one run, whatever the caller passed.
        by_key: dict[tuple[str, datetime], _Planned] = {}
        for plan in plans:
            by_key.setdefault((plan.outcome.schedule_id, plan.outcome.fire_time), plan)
        claim = await store.claim_fires(conn, [p.outcome for p in by_key.values()])
        gone |= claim.inactive
        won = [plan for key, plan in by_key.items() if key in claim.claimed]
        runs = [p.run for p in won if p.run is not None]
        stamp = utcnow()  # built ahead of their time: the rows say when they were written
        for new in runs:
            new.restamp(stamp)
        if runs:
            await self.db.executions.submit(
                [r.run for r in runs], [node for r in runs for node in r.nodes], conn=conn
            )
        for plan in won:
            if plan.pause_reason is not None:
                await store.pause_broken(conn, plan.outcome.schedule_id, plan.pause_reason)
        return won


def _once_each(due: Sequence[Fire]) -> list[Fire]:
    """``due`` with every (schedule, fire time) once; a repeat is logged (a timetable bug)."""
    seen: set[tuple[str, datetime]] = set()
    unique: list[Fire] = []
    for record, fire_time in due:
        if (record.id, fire_time) in seen:
            log.warning("schedule.fire_repeated", schedule_id=record.id, fire_time=fire_time)
            continue
        seen.add((record.id, fire_time))
        unique.append((record, fire_time))
    return unique
