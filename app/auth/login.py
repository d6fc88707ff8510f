"""One login procedure for the web and the API: throttle, check, audit; and the
first-login setup (a new password, TOTP enrolment) of an account an administrator made.

These functions flush and never commit. A failed login is kept by the face: it rolls
back the attempt, then calls `record_login_failure` in a transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext

from app.audit.service import Actor, audit, record_event
from app.auth import totp
from app.auth.caller import Caller
from app.auth.devices import (
    DeviceProof,
    device_cookie_after_login,
    known_address,
    remember_address,
    trusted_device,
)
from app.auth.models import ApiToken, User
from app.auth.passwords import hash_password, verify_password
from app.auth.service import (
    AuthenticationFailed,
    AwaitingApproval,
    LoginOutcome,
    OneTimePasswordExpired,
    authenticate,
    end_all_sessions,
    find_user,
    issue_token,
    normalise_username,
    password_rules_for,
    totp_secret_of,
)
from app.auth.sessions import DEFAULT_MAX_SESSIONS, lift_restriction, make_room, start_session
from app.auth.throttle import LoginThrottle
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, InvalidInput
from app.crypto.keyring import KeyRing
from app.crypto.models import DataKey
from app.crypto.service import cipher_for


class TooManyAttempts(DomainError):
    code = "too_many_requests"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed attempts; wait before trying again.")
        self.retry_after = retry_after


def trusted_place(
    session: DbSession, name: str, ip: str, channel: str, device: DeviceProof | None
) -> str | None:
    """Where she signed in from before, if this attempt comes from there: her device
    cookie on the pages, a known address on the API. The throttle then judges the
    attempt by that place's own counter (app/auth/throttle.py)."""
    user = find_user(session, name)
    if user is None:
        return None
    if channel == "web":
        device_id = trusted_device(device, user)
        return f"device:{device_id}" if device_id else None
    return f"address:{ip}" if known_address(session, user, ip) else None


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
    device: DeviceProof | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> LoginOutcome:
    """Raises TooManyAttempts or AuthenticationFailed; the caller then calls
    `record_login_failure` after rolling back, so the failure is kept."""
    name = normalise_username(username)[:60]
    trusted = trusted_place(session, name, ip, channel, device)
    wait = throttle.wait_seconds(name, ip, trusted)
    if wait:
        raise TooManyAttempts(wait)
    outcome = authenticate(session, ring, name, password, otp, require_mfa, allow_setup=allow_setup)
    throttle.record_success(name, ip, trusted)
    user = outcome.user
    actor = Actor(user.id, user.username, user.institution.code, user.role, ip)
    record_event(session, ring.audit_key, actor, "login", object_type=channel)
    if channel == "web":
        make_room(session, ring.audit_key, actor, user, max_sessions)
    return outcome


@dataclass(frozen=True)
class WebLogin:
    user: User
    token: str  # the cookie id of the new server-side session
    needs_setup: bool
    device_cookie: str | None  # to hand back once the login is complete (not in setup)


def log_in_to_pages(
    session: DbSession,
    ring: KeyRing,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    otp: str | None,
    ip: str,
    require_mfa: bool,
    device: DeviceProof,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> WebLogin:
    """A login through the pages opens a server-side session, restricted to the setup
    pages while the one-time password or the TOTP enrolment is pending. A complete login
    (password and code) renews the device cookie that the throttle trusts."""
    outcome = log_in(
        session,
        ring,
        throttle,
        username=username,
        password=password,
        otp=otp,
        ip=ip,
        require_mfa=require_mfa,
        channel="web",
        allow_setup=True,
        device=device,
        max_sessions=max_sessions,
    )
    token = start_session(session, outcome.user, ip, restricted=outcome.needs_setup)
    cookie = None if outcome.needs_setup else device_cookie_after_login(device, outcome.user)
    return WebLogin(outcome.user, token, outcome.needs_setup, cookie)


def log_in_for_token(
    session: DbSession,
    ring: KeyRing,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    otp: str | None,
    ip: str,
    require_mfa: bool,
    lifetime: timedelta,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> tuple[str, ApiToken]:
    """A login through the API yields a bearer token; an account still to set up gets none.
    The address becomes one the throttle trusts for her."""
    outcome = log_in(
        session,
        ring,
        throttle,
        username=username,
        password=password,
        otp=otp,
        ip=ip,
        require_mfa=require_mfa,
        channel="api",
        max_sessions=max_sessions,
    )
    remember_address(session, outcome.user, ip)
    return issue_token(session, outcome.user, lifetime, ip=ip)


def record_login_failure(
    session: DbSession,
    ring: KeyRing,
    throttle: LoginThrottle,
    username: str,
    ip: str,
    channel: str,
    error: AuthenticationFailed | TooManyAttempts,
    device: DeviceProof | None = None,
) -> None:
    """Count the failure (unless it was throttled already) and audit it, the same way for
    every face. A failure from a trusted place counts on that place's counter only."""
    name = normalise_username(username)[:60]
    throttled = isinstance(error, TooManyAttempts)
    if not throttled:
        throttle.record_failure(name, ip, trusted_place(session, name, ip, channel, device))
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
        detail=_failure_detail(error),
    )


def _failure_detail(error: Exception) -> str | None:
    if isinstance(error, TooManyAttempts):
        return "throttled"
    if isinstance(error, AwaitingApproval):
        return "awaiting_approval"
    if isinstance(error, OneTimePasswordExpired):
        return "one_time_password_expired"
    return None


# ---- first-login setup -----------------------------------------------------------------


def setup_pending(user: User, require_mfa: bool) -> bool:
    """The one-time password still to change, or TOTP still to enrol."""
    return user.must_change_password or (require_mfa and not user.totp_enrolled)


def change_password(user: User, current: str, new: str) -> None:
    """Her current password, and a new one that meets the strength rules."""
    if not verify_password(user.password_hash, current):
        raise InvalidInput(
            "wrong password", {"current_password": [gettext("La contraseña no es correcta.")]}
        )
    if new == current:
        raise InvalidInput(
            "same password",
            {"new_password": [gettext("Elija una contraseña distinta de la actual.")]},
        )
    password_rules_for(user, new)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.temp_password_expires_at = None
    end_all_sessions(user)


@dataclass(frozen=True)
class PasswordChanged:
    token: str  # the cookie id of the renewed session; every other session has ended
    setup_pending: bool


def change_own_password(
    session: DbSession,
    audit_key: bytes,
    caller: Caller,
    current: str,
    new: str,
    require_mfa: bool,
) -> PasswordChanged:
    """The new stamp ends every session of hers, this one too: she continues in a new one."""
    user = caller.user
    change_password(user, current, new)
    audit(
        session,
        audit_key,
        caller,
        "user_update",
        object_type="user",
        object_id=user.id,
        detail="own_password",
    )
    pending = setup_pending(user, require_mfa)
    return PasswordChanged(start_session(session, user, caller.ip, restricted=pending), pending)


def _secret_to_enrol(session: DbSession, ring: KeyRing, user: User) -> str:
    """A fresh secret for a user who has not enrolled yet (kept until confirmed)."""
    if user.totp_enrolled:
        raise Conflict("already enrolled")
    secret = totp_secret_of(session, ring, user)
    if secret is None:
        secret = totp.new_secret()
        cipher = cipher_for(ring, session.get_one(DataKey, user.data_key_id))
        user.totp_secret_enc = cipher.seal("users", user.id, "totp_secret", secret)
    return secret


@dataclass(frozen=True)
class Enrolment:
    secret: str  # to show (as a QR code) until a code from it is confirmed
    enrolled: bool


def enrol_totp(session: DbSession, ring: KeyRing, caller: Caller, code: str | None) -> Enrolment:
    """The secret to enrol and, given a code, its confirmation. A wrong or replayed code
    changes nothing but leaves the secret kept, so the app she scanned it into still works.
    Once enrolled, her session leaves the setup pages unless the password is still due."""
    user = caller.user
    secret = _secret_to_enrol(session, ring, user)
    step = totp.accepted_step(secret, code, user.totp_last_step) if code is not None else None
    if step is None:
        return Enrolment(secret, enrolled=False)
    user.totp_last_step = step
    user.totp_enrolled = True
    audit(
        session,
        ring.audit_key,
        caller,
        "user_update",
        object_type="user",
        object_id=user.id,
        detail="totp_enrolled",
    )
    if not user.must_change_password and user.web_session is not None:
        lift_restriction(user.web_session)
    return Enrolment(secret, enrolled=True)
