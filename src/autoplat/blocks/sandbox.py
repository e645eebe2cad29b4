"""Run one piece of user-supplied computation in a short-lived child process, bounded.

Some work that graph authors choose cannot be bounded from inside this process: Python's
``re`` engine holds the GIL for a whole match (a thread would not help) and Jinja templates
can build huge values in one step. Such work runs here instead: a fresh interpreter that
first caps its own address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``), reads one
JSON request on stdin, answers one JSON object on stdout, and is killed when the wall-clock
limit passes. The event loop only waits on pipes meanwhile.

Jobs are named functions ``module:function`` taking and returning JSON objects; only the
names in ``JOBS`` can be run. At most ``MAX_CHILDREN`` children run at once per event loop
(more would trade the CPU of every tenant for one graph's work); others wait their turn.
The child gets this process's environment without the platform's settings and anything
named like a secret, so the computation it runs has nothing of the server's to read.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import os
import re
import signal
import sys
import weakref
from collections.abc import Callable
from typing import Any

from autoplat.errors import BlockRunError

#: The jobs a child may run.
JOBS: dict[str, str] = {
    "regex": "autoplat.blocks.safe_regex:child_job",
    "template": "autoplat.blocks.templating:child_job",
    "spreadsheet": "autoplat.blocks.excel:child_job",
}
MAX_CHILDREN = 4
DEFAULT_MEMORY = 256 * 1024 * 1024
#: A child exits with this status when it ran out of memory.
_EXIT_MEMORY = 3


class _Slots:
    """The children of one event loop: a semaphore and how many run now."""

    def __init__(self) -> None:
        self.semaphore = asyncio.Semaphore(MAX_CHILDREN)
        self.active = 0


_SECRET_NAME = re.compile(r"^AUTOPLAT_|SECRET|TOKEN|PASSWORD|PASSWD|KEY|CREDENTIAL", re.I)


def _child_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not _SECRET_NAME.search(name)}


# Per event loop (tests run many loops in one process): a semaphore belongs to one loop.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = weakref.WeakKeyDictionary()


class ComputationTimeout(BlockRunError):
    """User-supplied computation ran past its time limit and was stopped."""

    code = "computation_timeout"


class ComputationTooLarge(BlockRunError):
    """User-supplied computation needed more memory than it may use."""

    code = "computation_too_large"


def running() -> int:
    """Children running now in this event loop (for tests and metrics)."""
    slots = _slots.get(asyncio.get_running_loop())
    return 0 if slots is None else slots.active


def _loop_slots() -> _Slots:
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = _Slots()
    return slots


async def run_job(
    job: str,
    request: dict[str, Any],
    *,
    what: str,
    timeout: float,
    memory: int = DEFAULT_MEMORY,
) -> dict[str, Any]:
    """Run ``job`` on ``request`` in a child; ``what`` names the work in error messages.

    Raises ComputationTimeout after ``timeout`` seconds, ComputationTooLarge past ``memory``
    bytes, and BlockRunError when the child fails otherwise.
    """
    if job not in JOBS:
        raise ValueError(f"unknown sandbox job {job!r}")
    payload = json.dumps(request).encode()
    slots = _loop_slots()
    async with slots.semaphore:
        slots.active += 1
        try:
            return await _run_child(job, payload, what=what, timeout=timeout, memory=memory)
        finally:
            slots.active -= 1


async def _run_child(
    job: str, payload: bytes, *, what: str, timeout: float, memory: int
) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from autoplat.blocks.sandbox import child_main; child_main()",
        job,
        str(memory),
        str(math.ceil(timeout) + 1),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=_child_environment(),
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(payload), timeout=timeout)
    except TimeoutError:
        raise ComputationTimeout(f"{what} took longer than {timeout:g}s and was stopped") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode == _EXIT_MEMORY:
        raise ComputationTooLarge(f"{what} needed more than {memory // 2**20} MiB and was stopped")
    if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        # RLIMIT_CPU stopped it (we kill only on timeout, handled above).
        raise ComputationTimeout(f"{what} took longer than {timeout:g}s and was stopped")
    if process.returncode != 0:
        raise BlockRunError(f"{what} failed (child exited with {process.returncode})")
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise BlockRunError(f"{what} failed (no answer from the child)") from None
    if not isinstance(answer, dict):
        raise BlockRunError(f"{what} failed (bad answer from the child)")
    return answer


def _resolve(job: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module_name, _, function = JOBS[job].partition(":")
    found: Callable[[dict[str, Any]], dict[str, Any]] = getattr(
        importlib.import_module(module_name), function
    )
    return found


def child_main() -> None:
    """Child entry point: ``job memory cpu_seconds`` in argv, the request on stdin."""
    import resource

    job, memory, cpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    function = _resolve(job)  # imports first: the limit is for the work, not the modules
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        request = json.loads(sys.stdin.buffer.read())
        answer = json.dumps(function(request))
    except MemoryError:
        sys.exit(_EXIT_MEMORY)
    sys.stdout.write(answer)
