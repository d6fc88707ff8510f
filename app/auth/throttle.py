"""Login throttling per account, on top of Flask-Limiter's per-IP limits.

Threat: password guessing. After five failures for one account from one address in a
minute, that pair waits, and each further lockout doubles the wait (30 s up to 15 min).
Many failures for one account from anywhere (a distributed guess) lock the account
itself for a while too. Other accounts and addresses are untouched, so one attacker
cannot lock everyone out. Counters live in the limiter's storage (Redis when
REDIS_URL is set), so every worker sees the same counts.
"""

from __future__ import annotations

import math
import time
from typing import Any

FAILURES_PER_PAIR = 5
PAIR_WINDOW_SECONDS = 60
FAILURES_PER_ACCOUNT = 20
ACCOUNT_WINDOW_SECONDS = 600
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 900
LEVEL_MEMORY_SECONDS = 3600


def lockout_delay(level: int) -> int:
    return int(min(BASE_DELAY_SECONDS * 2 ** max(level - 1, 0), MAX_DELAY_SECONDS))


class LoginThrottle:
    def __init__(self, storage: Any, prefix: str = "ruta-login") -> None:
        self.storage = storage
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def wait_seconds(self, username: str, ip: str) -> int:
        """Seconds until this account may try again from this address (0: now)."""
        waits = [
            self.storage.get_expiry(key) - time.time()
            for key in (self._key("lock", username, ip), self._key("lock", username))
            if self.storage.get(key) > 0
        ]
        return max([0, *(math.ceil(wait) for wait in waits)])

    def record_failure(self, username: str, ip: str) -> None:
        pair = self.storage.incr(self._key("fail", username, ip), PAIR_WINDOW_SECONDS)
        if pair >= FAILURES_PER_PAIR:
            self._lock(self._key("lock", username, ip), self._key("level", username, ip))
            self.storage.clear(self._key("fail", username, ip))
        total = self.storage.incr(self._key("fail", username), ACCOUNT_WINDOW_SECONDS)
        if total >= FAILURES_PER_ACCOUNT:
            self._lock(self._key("lock", username), self._key("level", username))
            self.storage.clear(self._key("fail", username))

    def record_success(self, username: str, ip: str) -> None:
        self.storage.clear(self._key("fail", username, ip))
        self.storage.clear(self._key("level", username, ip))

    def _lock(self, lock_key: str, level_key: str) -> None:
        level = self.storage.incr(level_key, LEVEL_MEMORY_SECONDS)
        self.storage.clear(lock_key)
        self.storage.incr(lock_key, lockout_delay(level))
