"""Supervised loops restart with backoff, report failing while they recover, and give up."""

from __future__ import annotations

import asyncio

import pytest

from autoplat import tasks
from autoplat.tasks import TaskOwner


async def test_a_failing_loop_is_restarted_and_reported_until_it_runs_again() -> None:
    runs = 0
    recovered = asyncio.Event()

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("boom")
        recovered.set()
        await asyncio.sleep(3600)

    owner = TaskOwner("test")
    owner.supervise("flaky", loop)
    await asyncio.wait_for(recovered.wait(), 5)
    assert runs == 3
    assert owner.failing() == ["test:flaky"]  # failed moments ago: not proven yet
    await owner.cancel_all()


async def test_a_loop_that_keeps_failing_is_given_up_on_and_reported_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fatal: list[str] = []

    async def loop() -> None:
        raise RuntimeError("always")

    owner = TaskOwner("test", on_fatal=fatal.append)
    monkeypatch.setattr(tasks, "FIRST_BACKOFF", 0.001)  # the real backoff takes ~40 s
    await asyncio.wait_for(owner.supervise("broken", loop), 10)
    assert fatal == ["test:broken"]
    assert owner.failing() == ["test:broken"]


async def test_a_loop_that_returns_is_not_restarted() -> None:
    calls = 0

    async def loop() -> None:
        nonlocal calls
        calls += 1

    owner = TaskOwner("test")
    await asyncio.wait_for(owner.supervise("done", loop), 1)
    assert calls == 1 and owner.failing() == []


async def test_an_owner_gives_up_after_the_number_of_failures_it_was_given() -> None:
    calls = 0
    fatal: list[str] = []

    async def loop() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    owner = TaskOwner("test", on_fatal=fatal.append, max_failures=3)
    await asyncio.wait_for(owner.supervise("broken", loop), 5)  # backoffs: 0.1 s, 0.2 s
    assert calls == 3
    assert fatal == ["test:broken"]
