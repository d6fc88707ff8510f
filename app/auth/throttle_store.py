"""The login throttle bound to the app's limiter storage (Redis or memory)."""

from __future__ import annotations

from app.auth.throttle import LoginThrottle
from app.extensions import limiter


def login_throttle() -> LoginThrottle:
    return LoginThrottle(limiter.storage)
