"""Execution statuses and the one table of allowed status changes."""

from __future__ import annotations

import enum
from typing import Final

from autoplat.errors import InvalidTransition


class ExecutionStatus(enum.StrEnum):
    """Status of a graph execution or a node execution (AutoGPT's names)."""

    INCOMPLETE = "INCOMPLETE"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"
    #: Waiting for a person's decision (human in the loop): holds no worker.
    REVIEW = "REVIEW"


S = ExecutionStatus

#: Every allowed change. RUNNING -> QUEUED is the hand-back of work whose process died or
#: drained (a resumed node execution runs again; a released run is claimed again).
#: RUNNING -> REVIEW parks a node (and its run) for a person; the decision queues it again.
TRANSITIONS: Final[dict[ExecutionStatus, frozenset[ExecutionStatus]]] = {
    S.INCOMPLETE: frozenset({S.QUEUED, S.TERMINATED, S.FAILED}),
    S.QUEUED: frozenset({S.RUNNING, S.TERMINATED, S.FAILED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.TERMINATED, S.QUEUED, S.REVIEW}),
    S.REVIEW: frozenset({S.QUEUED, S.TERMINATED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.TERMINATED: frozenset(),
    S.FAILED: frozenset(),
}

TERMINAL: Final = frozenset({S.COMPLETED, S.TERMINATED, S.FAILED})
#: Where a run's stay in a process ends: its last event goes with its last row.
SETTLED: Final = TERMINAL | {S.REVIEW}


def is_terminal(status: ExecutionStatus | str) -> bool:
    """Whether nothing can follow this status."""
    return ExecutionStatus(status) in TERMINAL


def can_transition(old: ExecutionStatus | str, new: ExecutionStatus | str) -> bool:
    """Whether the table allows ``old`` -> ``new``."""
    return ExecutionStatus(new) in TRANSITIONS[ExecutionStatus(old)]


def check_transition(old: ExecutionStatus | str, new: ExecutionStatus | str) -> ExecutionStatus:
    """Return ``new`` if the table allows ``old`` -> ``new``; raise InvalidTransition if not."""
    # Fast path for enum members (StrEnum hashes like its value, so strings work too).
    allowed = TRANSITIONS.get(old)  # type: ignore[arg-type]
    if allowed is not None and new in allowed:
        return new if isinstance(new, ExecutionStatus) else ExecutionStatus(new)
    if not can_transition(old, new):
        raise InvalidTransition(f"execution status cannot change from {old} to {new}")
    return ExecutionStatus(new)
