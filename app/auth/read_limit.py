"""A per-user cap on reading case records: RUTA_CASE_READS_PER_HOUR [300] in a rolling hour.

Threat: a stolen account, or an insider, copying the records of a whole network one page
at a time. Each read costs its weight; past the cap the user gets 429 until the oldest
reads of the hour fall out of the window, and the supervisors are told, once an hour per
user. The window lives in the limiter's storage (memory, or Redis with REDIS_URL), like
the login throttle: nothing is written to the database, and nothing is locked, per read.

Weights (what one call costs):
- `case`: the case page or `GET /cases/{id}`, 1: one record;
- `search`: a case search, 1: it shows who matches, not the records;
- `attachment`: a download, 1: one document of one record;
- `export`: a CSV export, 10: many rows at once, de-identified.
"""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItemPerHour
from limits.strategies import MovingWindowRateLimiter

from app.core.errors import DomainError

WEIGHTS = {"case": 1, "search": 1, "attachment": 1, "export": 10}
NOTIFY_EVERY_SECONDS = 3600


class TooManyReads(DomainError):
    code = "too_many_reads"
    status = 429
    title = "Límite de lecturas alcanzado"  # the page's heading (app/web/errors.py)

    def __init__(self, per_hour: int, retry_after: int, kind: str, notify: bool) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"Abrió más de {per_hour} expedientes en la última hora. Podrá seguir en unos "
            f"{minutes} minutos; si su trabajo lo necesita, hable con su supervisora.",
        )
        self.per_hour = per_hour
        self.retry_after = retry_after
        self.kind = kind
        # First refusal of this user this hour: the supervisors are to be told.
        self.notify = notify


class ReadLimit:
    def __init__(self, storage: Any, per_hour: int, prefix: str = "ruta-reads") -> None:
        self.storage = storage
        self.per_hour = per_hour
        self.prefix = prefix
        self._item = RateLimitItemPerHour(per_hour)
        self._window = MovingWindowRateLimiter(storage)

    def charge(self, user_id: int, kind: str) -> None:
        """Count one read of `kind` for the user, or raise TooManyReads (nothing counted)."""
        weight = WEIGHTS[kind]
        if self._window.hit(self._item, self.prefix, str(user_id), cost=weight):
            return
        stats = self._window.get_window_stats(self._item, self.prefix, str(user_id))
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyReads(self.per_hour, retry_after, kind, self._first_refusal(user_id))

    def _first_refusal(self, user_id: int) -> bool:
        key = f"{self.prefix}-told:{user_id}"
        return bool(self.storage.incr(key, NOTIFY_EVERY_SECONDS) == 1)
