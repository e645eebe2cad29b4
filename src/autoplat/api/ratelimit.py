"""Per-user rate limiting of run submissions: an in-process token bucket per user."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from autoplat.errors import RunRateLimited

#: Buckets idle this long are full again and can be forgotten.
_FORGET_AFTER_SECONDS = 120.0


class RateLimiter:
    """Allows ``per_minute`` events per user, refilled continuously; 0 disables the limit.

    A burst of up to ``per_minute`` is allowed from a full bucket. Limits are per process:
    with N processes on one database a user can reach N times the rate, which is the price
    of not touching the database on every submission.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_sweep = clock()

    def check(self, user_id: str, cost: float = 1.0) -> None:
        """Take ``cost`` tokens from the user's bucket or raise RateLimited (429)."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        capacity = float(self.per_minute)
        rate = capacity / 60.0
        tokens, updated = self._buckets.get(user_id, (capacity, now))
        tokens = min(capacity, tokens + (now - updated) * rate)
        if tokens < cost:
            self._buckets[user_id] = (tokens, now)
            retry_after = math.ceil((cost - tokens) / rate)
            raise RunRateLimited(
                f"run submissions are limited to {self.per_minute} per minute; "
                f"retry in {retry_after} s",
                retry_after=retry_after,
                details=[{"field": "retry_after", "message": str(retry_after)}],
            )
        self._buckets[user_id] = (tokens - cost, now)
        self._sweep(now)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < _FORGET_AFTER_SECONDS:
            return
        self._last_sweep = now
        stale = [u for u, (_, t) in self._buckets.items() if now - t > _FORGET_AFTER_SECONDS]
        for user_id in stale:
            del self._buckets[user_id]
