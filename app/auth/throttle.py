"""Login throttling per account, on top of Flask-Limiter's per-IP limits.

Threat: password guessing. After five failures for one account from one address in a
minute, that pair waits, and each further lockout doubles the wait (30 s up to 15 min).
Many failures for one account from anywhere (a distributed guess) lock the account
itself for a while too. Other accounts and addresses are untouched, so one attacker
cannot lock everyone out. Counters live in the limiter's storage (Redis when
REDIS_URL is set), so every worker sees the same counts.

Threat turned around: an attacker who fails on purpose to lock a caseworker out in an
emergency (OWASP's device-cookie defence). An attempt from a place she signed in from
before (`trusted`: her device cookie on the pages, a known address on the API) is judged
only by that place's own counter, never by the pair or account locks that failures from
elsewhere build up. That counter locks like a pair's, so a stolen device cookie gains a
few guesses at most; and failures from a trusted place never count towards the account.
"""

from __future__ import annotations

import math
import time
from typing import Any

FAILURES_PER_PAIR = 5
PAIR_WINDOW_SECONDS = 60
FAILURES_PER_ACCOUNT = 20
ACCOUNT_WINDOW_SECONDS = 600
FAILURES_PER_TRUSTED = 5
TRUSTED_WINDOW_SECONDS = 600
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 900
LEVEL_MEMORY_SECONDS = 3600


def lockout_delay(level: int) -> int:
    return int(min(BASE_DELAY_SECONDS * 2 ** max(level - 1, 0), MAX_DELAY_SECONDS))


class LoginThrottle:
    def __init__(self, storage: Any, prefix: str = "ruta-login") -> None:
        self.storage = storage
        self.prefix = prefix

    def _key(self, kind: str, scope: tuple[str, ...]) -> str:
        # The scope's own kind (pair, account, trusted) comes first: none can name another.
        return ":".join((self.prefix, kind, *scope))

    def _scopes(self, username: str, ip: str, trusted: str | None) -> list[tuple[str, ...]]:
        """The counters that judge this attempt: the trusted place's alone, or the pair's
        and the account's."""
        if trusted:
            return [("trusted", username, trusted)]
        return [("pair", username, ip), ("account", username)]

    def wait_seconds(self, username: str, ip: str, trusted: str | None = None) -> int:
        """Seconds until this account may try again from here (0: now)."""
        waits = [
            self.storage.get_expiry(key) - time.time()
            for key in (self._key("lock", s) for s in self._scopes(username, ip, trusted))
            if self.storage.get(key) > 0
        ]
        return max([0, *(math.ceil(wait) for wait in waits)])

    def record_failure(self, username: str, ip: str, trusted: str | None = None) -> None:
        if trusted:
            self._count(
                ("trusted", username, trusted), FAILURES_PER_TRUSTED, TRUSTED_WINDOW_SECONDS
            )
            return
        self._count(("pair", username, ip), FAILURES_PER_PAIR, PAIR_WINDOW_SECONDS)
        self._count(("account", username), FAILURES_PER_ACCOUNT, ACCOUNT_WINDOW_SECONDS)

    def record_success(self, username: str, ip: str, trusted: str | None = None) -> None:
        """Her own counters start afresh; the account's, which others fill, does not."""
        for scope in self._scopes(username, ip, trusted)[:1]:
            self.storage.clear(self._key("fail", scope))
            self.storage.clear(self._key("level", scope))

    def _count(self, scope: tuple[str, ...], limit: int, window: int) -> None:
        failures = self.storage.incr(self._key("fail", scope), window)
        if failures >= limit:
            self._lock(scope)
            self.storage.clear(self._key("fail", scope))

    def _lock(self, scope: tuple[str, ...]) -> None:
        level = self.storage.incr(self._key("level", scope), LEVEL_MEMORY_SECONDS)
        self.storage.clear(self._key("lock", scope))
        self.storage.incr(self._key("lock", scope), lockout_delay(level))
