"""Server-side web sessions: the cookie holds a random id, the database the rest.

Because every request checks the record, logging out, disabling a user or changing
their password or role ends their sessions everywhere at once (the security stamp),
and idle and absolute timeouts hold whatever the browser keeps.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.models import User, UserSession
from app.core.db import DbSession
from app.core.time import utcnow

TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most once a minute


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: DbSession, user: User, ip: str | None, restricted: bool) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=_digest(token),
            security_stamp=user.security_stamp,
            ip=ip,
            restricted=restricted,
        )
    )
    session.flush()
    return token


def live_session(
    session: DbSession,
    token: str,
    idle: timedelta,
    absolute: timedelta,
    now: datetime | None = None,
) -> UserSession | None:
    """The session behind the cookie, if still valid; ends it when it has run out."""
    if not token or len(token) > 100:
        return None
    record = session.execute(
        select(UserSession).where(UserSession.token_hash == _digest(token))
    ).scalar_one_or_none()
    now = now or utcnow()
    if record is None or record.ended_at is not None:
        return None
    user = record.user
    expired = now - record.last_seen_at > idle or now - record.created_at > absolute
    if expired or not user.active or record.security_stamp != user.security_stamp:
        # Kept by the request's commit. Should the request fail, the row stays open until
        # the cookie comes back, and is refused all the same: these checks run every time.
        record.ended_at = now
        return None
    if now - record.last_seen_at > TOUCH_EVERY:
        record.last_seen_at = now
    return record


def end_session(session: DbSession, token: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _digest(token), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def lift_restriction(record: UserSession) -> None:
    record.restricted = False


def log_out(session: DbSession, audit_key: bytes, caller: Caller, token: str) -> None:
    """End the caller's session behind `token` (her other sessions go on); audited."""
    end_session(session, token)
    audit(session, audit_key, caller, "logout", object_type=caller.channel)
