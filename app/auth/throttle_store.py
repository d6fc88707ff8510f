"""The login throttle and the hourly caps bound to the app's limiter storage (Redis or memory)."""

from __future__ import annotations

from flask import current_app

from app.auth.read_limit import ReadLimit
from app.auth.throttle import LoginThrottle
from app.auth.write_limit import WriteLimit
from app.extensions import limiter

DEFAULT_READS_PER_HOUR = 300
DEFAULT_WRITES_PER_HOUR = 600


def login_throttle() -> LoginThrottle:
    return LoginThrottle(limiter.storage)


def charge_read(user_id: int, kind: str) -> None:
    """Count a case read of `kind` against the user's hourly cap (raises TooManyReads)."""
    per_hour = current_app.config.get("RUTA_CASE_READS_PER_HOUR", DEFAULT_READS_PER_HOUR)
    ReadLimit(limiter.storage, per_hour).charge(user_id, kind)


def charge_write(user_id: int, kind: str) -> None:
    """Count a case write of `kind` against the user's hourly cap (raises TooManyWrites)."""
    per_hour = current_app.config.get("RUTA_CASE_WRITES_PER_HOUR", DEFAULT_WRITES_PER_HOUR)
    WriteLimit(limiter.storage, per_hour).charge(user_id, kind)
