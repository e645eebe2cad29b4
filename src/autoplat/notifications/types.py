"""AutoGPT's notification types, and which of them wait for a batch e-mail.

Invariant: every type a notification is recorded with is a member of NotificationType; a
user's preference for a type decides its e-mail only (the in-app record is always kept,
so that nothing the platform told the user is lost).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class NotificationType(enum.StrEnum):
    """What a notification is about (AutoGPT's names)."""

    AGENT_RUN = "AGENT_RUN"
    ZERO_BALANCE = "ZERO_BALANCE"
    LOW_BALANCE = "LOW_BALANCE"
    BLOCK_EXECUTION_FAILED = "BLOCK_EXECUTION_FAILED"
    CONTINUOUS_AGENT_ERROR = "CONTINUOUS_AGENT_ERROR"
    DAILY_SUMMARY = "DAILY_SUMMARY"
    WEEKLY_SUMMARY = "WEEKLY_SUMMARY"
    MONTHLY_SUMMARY = "MONTHLY_SUMMARY"
    AGENT_APPROVED = "AGENT_APPROVED"
    AGENT_REJECTED = "AGENT_REJECTED"


#: Types e-mailed together: frequent, and nobody wants a message per run.
BATCHED: frozenset[NotificationType] = frozenset(
    {NotificationType.AGENT_RUN, NotificationType.BLOCK_EXECUTION_FAILED}
)

#: The subject line of each type's e-mail.
SUBJECTS: dict[NotificationType, str] = {
    NotificationType.AGENT_RUN: "Your agents ran",
    NotificationType.ZERO_BALANCE: "You are out of credits",
    NotificationType.LOW_BALANCE: "Your credit balance is low",
    NotificationType.BLOCK_EXECUTION_FAILED: "A block failed in your agent",
    NotificationType.CONTINUOUS_AGENT_ERROR: "Your agent keeps failing",
    NotificationType.DAILY_SUMMARY: "Your daily agent summary",
    NotificationType.WEEKLY_SUMMARY: "Your weekly agent summary",
    NotificationType.MONTHLY_SUMMARY: "Your monthly agent summary",
    NotificationType.AGENT_APPROVED: "Your agent was approved",
    NotificationType.AGENT_REJECTED: "Your agent was not approved",
}


def wants_email(preferences: Mapping[str, Any], type: NotificationType) -> bool:
    """Whether the user's preferences document asks for e-mail of ``type`` (default yes)."""
    chosen = preferences.get("preferences")
    if isinstance(chosen, Mapping) and type.value in chosen:
        return bool(chosen[type.value])
    return True


def daily_limit(preferences: Mapping[str, Any]) -> int:
    """E-mails a day the user accepts (10 unless set)."""
    limit = preferences.get("daily_limit")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else 10
