"""Server-side web sessions: the cookie holds a random id, the database the rest.

Because every request checks the record, logging out, disabling a user or changing
their password or role ends their sessions everywhere at once (the security stamp),
and idle and absolute timeouts hold whatever the browser keeps.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.models import ApiToken, User, UserSession
from app.auth.service import token_is_live
from app.core.db import DbSession
from app.core.errors import NotFound
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
    if not session_is_live(record, idle, absolute, now):
        # Kept by the request's commit. Should the request fail, the row stays open until
        # the cookie comes back, and is refused all the same: these checks run every time.
        record.ended_at = now
        return None
    if now - record.last_seen_at > TOUCH_EVERY:
        record.last_seen_at = now
    return record


def session_is_live(
    record: UserSession, idle: timedelta, absolute: timedelta, now: datetime
) -> bool:
    user = record.user
    return (
        record.ended_at is None
        and now - record.last_seen_at <= idle
        and now - record.created_at <= absolute
        and user.active
        and record.security_stamp == user.security_stamp
    )


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


# ---- "Mis sesiones": her live logins, each of which she may end -------------------------


@dataclass(frozen=True)
class Lifetimes:
    """How long logins live (the app's configuration)."""

    idle: timedelta  # web session unused
    absolute: timedelta  # web session, however used
    token_idle: timedelta  # API token unused


@dataclass(frozen=True)
class LiveLogin:
    kind: str  # "web" or "api"
    id: int
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    current: bool  # the one this request came with


def my_logins(
    session: DbSession, caller: Caller, lifetimes: Lifetimes, current_session_id: int | None
) -> list[LiveLogin]:
    """Her web sessions and API tokens that still work, newest first."""
    now = utcnow()
    webs = session.execute(
        select(UserSession).where(UserSession.user_id == caller.id, UserSession.ended_at.is_(None))
    ).scalars()
    tokens = session.execute(
        select(ApiToken).where(
            ApiToken.user_id == caller.id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
    ).scalars()
    logins = [
        LiveLogin("web", r.id, r.created_at, r.last_seen_at, r.ip, r.id == current_session_id)
        for r in webs
        if session_is_live(r, lifetimes.idle, lifetimes.absolute, now)
    ]
    logins += [
        LiveLogin("api", t.id, t.created_at, t.last_used_at or t.created_at, t.ip, False)
        for t in tokens
        if token_is_live(t, lifetimes.token_idle, now)
    ]
    return sorted(logins, key=lambda login: login.created_at, reverse=True)


def end_my_session(
    session: DbSession, audit_key: bytes, caller: Caller, session_id: int
) -> UserSession:
    """She ends one of her web sessions (another's answers 404); audited as `logout`."""
    record = session.get(UserSession, session_id)
    if record is None or record.user_id != caller.id or record.ended_at is not None:
        raise NotFound("Sesión desconocida.")
    record.ended_at = utcnow()
    audit(session, audit_key, caller, "logout", object_type="session", object_id=record.id)
    return record


def revoke_token(session: DbSession, audit_key: bytes, caller: Caller, token_id: int) -> None:
    """She ends one of her API tokens (another's answers 404), from "Mis sesiones" or
    with the token itself (`DELETE /auth/token`); audited as `logout`."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != caller.id or row.revoked_at is not None:
        raise NotFound("Token desconocido.")
    row.revoked_at = utcnow()
    audit(session, audit_key, caller, "logout", object_type="api_token", object_id=row.id)
