"""The execution status table: every allowed change, and everything else refused."""

from __future__ import annotations

import itertools

import pytest

from autoplat.errors import InvalidTransition
from autoplat.executions.status import (
    TERMINAL,
    TRANSITIONS,
    ExecutionStatus,
    can_transition,
    check_transition,
    is_terminal,
)

S = ExecutionStatus
ALLOWED = {
    (S.INCOMPLETE, S.QUEUED),
    (S.INCOMPLETE, S.TERMINATED),
    (S.INCOMPLETE, S.FAILED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.TERMINATED),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.TERMINATED),
    (S.RUNNING, S.QUEUED),
    (S.RUNNING, S.REVIEW),
    (S.REVIEW, S.QUEUED),
    (S.REVIEW, S.TERMINATED),
    (S.REVIEW, S.FAILED),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(S, S)))
def test_the_table_allows_exactly_these_changes(old: S, new: S) -> None:
    allowed = (old, new) in ALLOWED
    assert can_transition(old, new) is allowed
    if allowed:
        assert check_transition(old, new) is new
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(old, new)
        assert info.value.status == 409
        assert str(old) in info.value.message and str(new) in info.value.message


def test_terminal_statuses_have_no_way_out() -> None:
    assert {S.COMPLETED, S.FAILED, S.TERMINATED} == TERMINAL
    for status in S:
        assert is_terminal(status) is (not TRANSITIONS[status])


def test_strings_are_accepted() -> None:
    assert check_transition("QUEUED", "RUNNING") is S.RUNNING
    assert is_terminal("COMPLETED")
