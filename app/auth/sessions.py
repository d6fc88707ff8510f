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

from flask_babel import gettext
from sqlalchemy import select, update

from app.audit.service import Actor, audit, record_event
from app.auth.caller import Caller
from app.auth.models import ApiToken, User, UserSession
from app.auth.passwords import verify_password
from app.auth.service import token_is_live
from app.core.db import DbSession
from app.core.errors import InvalidInput, NotFound
from app.core.time import utcnow

TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most once a minute
# Open logins (web sessions and API tokens together) one account may hold at once:
# a stolen password used in parallel shows up as her own sessions ending.
DEFAULT_MAX_SESSIONS = 5


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


def _session_behind(session: DbSession, token: str | None) -> UserSession | None:
    if not token or len(token) > 100:
        return None
    return session.execute(
        select(UserSession).where(UserSession.token_hash == _digest(token))
    ).scalar_one_or_none()


def live_session(
    session: DbSession,
    token: str,
    idle: timedelta,
    absolute: timedelta,
    now: datetime | None = None,
) -> UserSession | None:
    """The session behind the cookie, if still valid; ends it when it has run out."""
    record = _session_behind(session, token)
    now = now or utcnow()
    if record is None or record.ended_at is not None:
        return None
    if not session_is_live(record, idle, absolute, now):
        # Kept by the request's commit. Should the request fail, the row stays open until
        # the cookie comes back, and is refused all the same: these checks run every time.
        record.ended_at = now
        return None
    # A short idle time (the browser tests') is touched more often, or pages alone
    # would never keep it.
    if now - record.last_seen_at > min(TOUCH_EVERY, idle / 10):
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


# ---- the pages' keep-alive: what the browser learns of its session's time ---------------


@dataclass(frozen=True)
class SessionTime:
    """What a page's script may know of the session its cookie names: no more than it
    needs to warn her before the end, and to tell her own session from another's."""

    user_id: int
    seconds_left: int  # till the idle end, or the absolute one when that comes first
    restricted: bool  # still on the first-login setup pages


def time_left(
    record: UserSession, idle: timedelta, absolute: timedelta, now: datetime | None = None
) -> SessionTime | None:
    now = now or utcnow()
    if not session_is_live(record, idle, absolute, now):
        return None
    left = min(idle - (now - record.last_seen_at), absolute - (now - record.created_at))
    return SessionTime(record.user_id, max(0, int(left.total_seconds())), record.restricted)


def session_time(
    session: DbSession,
    token: str | None,
    idle: timedelta,
    absolute: timedelta,
    now: datetime | None = None,
) -> SessionTime | None:
    """How long the session behind `token` has left, without using it: a tab that asks
    before it warns or locks must not keep an abandoned PC signed in. None: it is over."""
    record = _session_behind(session, token)
    if record is None or record.ended_at is not None:
        return None
    return time_left(record, idle, absolute, now or utcnow())


def keep_alive(
    record: UserSession, idle: timedelta, absolute: timedelta, now: datetime | None = None
) -> SessionTime | None:
    """She is typing or reading on a page: her live session counts as used now. Not a
    read of any case and not audited: it only moves `last_seen_at`, and only a page's
    script sends it, after a key or a click (app/static/js/ruta.js)."""
    now = now or utcnow()
    if not session_is_live(record, idle, absolute, now):
        return None
    record.last_seen_at = now
    return time_left(record, idle, absolute, now)


def ended_by_idleness(session: DbSession, token: str | None, idle: timedelta) -> bool:
    """Whether the session behind `token` ended (or is due to end) because it went
    unused for `idle`, not by a logout, a new password or its absolute lifetime: the
    login page then says so."""
    record = _session_behind(session, token)
    if record is None:
        return False
    end = record.ended_at or utcnow()
    return end - record.last_seen_at > idle


def end_session(session: DbSession, token: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _digest(token), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def make_room(
    session: DbSession, audit_key: bytes, actor: Actor, user: User, max_sessions: int
) -> None:
    """Before a sign-in on the pages opens one more session: end her least recently used
    open sessions beyond `max_sessions - 1`, each audited as a `logout` for the cap. Open
    means not ended and under her current stamp; one gone idle is used least recently and
    goes first. API tokens are not counted: each ends after its idle time and its hours,
    and other systems hold several at once."""
    webs = session.execute(
        select(UserSession).where(
            UserSession.user_id == user.id,
            UserSession.ended_at.is_(None),
            UserSession.security_stamp == user.security_stamp,
        )
    ).scalars()
    logins = sorted(webs, key=lambda web: (web.last_seen_at, web.id), reverse=True)
    now = utcnow()
    for row in logins[max(0, max_sessions - 1) :]:
        row.ended_at, kind = now, "session"
        record_event(
            session,
            audit_key,
            actor,
            "logout",
            object_type=kind,
            object_id=row.id,
            detail="session_cap",
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


def confirm_password(caller: Caller, password: str | None) -> None:
    """Her password again, before she ends a login from "Mis sesiones": someone who sat
    down at her open browser cannot throw her out of her other devices, or cut off her
    scripts, without knowing it."""
    if not verify_password(caller.password_hash, password or ""):
        raise InvalidInput(
            "wrong password", {"password": [gettext("La contraseña no es correcta.")]}
        )


def end_my_session(
    session: DbSession,
    audit_key: bytes,
    caller: Caller,
    session_id: int,
    password: str | None,
    current_session_id: int | None,
) -> UserSession:
    """She ends one of her web sessions (another's answers 404); audited as `logout`.
    Another of hers needs her password again; this one is a plain logout."""
    record = session.get(UserSession, session_id)
    if record is None or record.user_id != caller.id or record.ended_at is not None:
        raise NotFound(gettext("Sesión desconocida."))
    if record.id != current_session_id:
        confirm_password(caller, password)
    record.ended_at = utcnow()
    audit(session, audit_key, caller, "logout", object_type="session", object_id=record.id)
    return record


def revoke_my_token(
    session: DbSession, audit_key: bytes, caller: Caller, token_id: int, password: str | None
) -> None:
    """She revokes one of her API tokens from "Mis sesiones", giving her password again."""
    _her_live_token(session, caller, token_id)
    confirm_password(caller, password)
    revoke_token(session, audit_key, caller, token_id)


def _her_live_token(session: DbSession, caller: Caller, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != caller.id or row.revoked_at is not None:
        raise NotFound("Token desconocido.")
    return row


def revoke_token(session: DbSession, audit_key: bytes, caller: Caller, token_id: int) -> None:
    """She ends one of her API tokens (another's answers 404), from "Mis sesiones" or
    with the token itself (`DELETE /auth/token`); audited as `logout`."""
    row = _her_live_token(session, caller, token_id)
    row.revoked_at = utcnow()
    audit(session, audit_key, caller, "logout", object_type="api_token", object_id=row.id)
