"""One login procedure for the web and the API: throttle, check, audit."""

from __future__ import annotations

from app.audit.service import Actor, record_event
from app.auth.service import LoginOutcome, authenticate, find_user, normalise_username
from app.auth.throttle import LoginThrottle
from app.core.db import DbSession
from app.core.errors import DomainError
from app.crypto.keyring import KeyRing


class TooManyAttempts(DomainError):
    code = "too_many_requests"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed attempts; wait before trying again.")
        self.retry_after = retry_after


def log_in(
    session: DbSession,
    ring: KeyRing,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    otp: str | None,
    ip: str,
    require_mfa: bool,
    channel: str,
    allow_setup: bool = False,
) -> LoginOutcome:
    """Raises TooManyAttempts or AuthenticationFailed; the caller then calls
    `record_login_failure` after rolling back, so the failure is kept."""
    name = normalise_username(username)[:60]
    wait = throttle.wait_seconds(name, ip)
    if wait:
        raise TooManyAttempts(wait)
    outcome = authenticate(session, ring, name, password, otp, require_mfa, allow_setup=allow_setup)
    throttle.record_success(name, ip)
    user = outcome.user
    actor = Actor(user.id, user.username, user.institution.code, user.role, ip)
    record_event(session, ring.audit_key, actor, "login", object_type=channel)
    return outcome


def record_login_failure(
    session: DbSession,
    ring: KeyRing,
    throttle: LoginThrottle,
    username: str,
    ip: str,
    channel: str,
    throttled: bool = False,
    awaiting_approval: bool = False,
) -> None:
    name = normalise_username(username)[:60]
    if not throttled:
        throttle.record_failure(name, ip)
    known = find_user(session, name)
    # Only a real account's name is written: what someone typed into the username box
    # for an unknown account may be a password, and supervisors read this log.
    actor = (
        Actor(known.id, known.username, known.institution.code, known.role, ip)
        if known
        else Actor(None, None, None, None, ip)
    )
    record_event(
        session,
        ring.audit_key,
        actor,
        "login_failed",
        object_type=channel,
        detail="throttled" if throttled else "awaiting_approval" if awaiting_approval else None,
    )
