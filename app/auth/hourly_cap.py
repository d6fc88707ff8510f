"""A per-user cap in a rolling hour, shared by the read cap and the write cap.

Each call costs its kind's weight; past the cap the user gets 429 until the oldest calls
of the hour fall out of the window, and the refusal says whether it is the first of the
hour for her (the supervisors are told then, once). The window lives in the limiter's
storage (memory, or Redis with REDIS_URL): nothing is written to the database, and
nothing is locked, per call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItemPerHour
from limits.strategies import MovingWindowRateLimiter

from app.core.errors import DomainError

NOTIFY_EVERY_SECONDS = 3600


class CapReached(DomainError):
    """A call refused by an hourly cap; `action` names its audit event and notification."""

    status = 429
    action = ""

    def __init__(
        self, message: str, per_hour: int, retry_after: int, kind: str, notify: bool
    ) -> None:
        super().__init__(message)
        self.per_hour = per_hour
        self.retry_after = retry_after
        self.kind = kind
        # First refusal of this user this hour: the supervisors are to be told.
        self.notify = notify


class HourlyCap:
    """`refused(per_hour, retry_after, kind, notify)` builds the error to raise."""

    def __init__(
        self,
        storage: Any,
        per_hour: int,
        prefix: str,
        weights: Mapping[str, int],
        refused: Callable[[int, int, str, bool], CapReached],
    ) -> None:
        self.storage = storage
        self.per_hour = per_hour
        self.prefix = prefix
        self.weights = weights
        self.refused = refused
        self._item = RateLimitItemPerHour(per_hour)
        self._window = MovingWindowRateLimiter(storage)

    def charge(self, user_id: int, kind: str) -> None:
        """Count one call of `kind` for the user, or raise `refused` (nothing counted)."""
        if self._window.hit(self._item, self.prefix, str(user_id), cost=self.weights[kind]):
            return
        stats = self._window.get_window_stats(self._item, self.prefix, str(user_id))
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise self.refused(self.per_hour, retry_after, kind, self._first_refusal(user_id))

    def _first_refusal(self, user_id: int) -> bool:
        key = f"{self.prefix}-told:{user_id}"
        return bool(self.storage.incr(key, NOTIFY_EVERY_SECONDS) == 1)
