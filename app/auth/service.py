"""Users, credentials and API tokens. No Flask request here: callers pass what it needs."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import bindparam, select, update

from app.auth import totp
from app.auth.labels import ROLE_LABELS
from app.auth.models import APPROVED_ROLES, CASE_ROLES, ROLE_KINDS, ROLES, ApiToken, User
from app.auth.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    rehash_password,
    verify_password,
)
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, InvalidInput
from app.core.time import utcnow
from app.crypto.keyring import KeyRing
from app.crypto.models import DataKey
from app.crypto.service import cipher_for, create_data_key
from app.directory.labels import INSTITUTION_KIND_LABELS
from app.directory.models import Institution

USERNAME_MAX = 60
# Threat: a one-time password left in a drawer or an e-mail works for whoever finds it.
ONE_TIME_PASSWORD_LIFETIME = timedelta(hours=72)
ONE_TIME_PASSWORD_BYTES = 16
# A token's last use is written at most this often: not a write on every API call.
TOKEN_TOUCH_EVERY = timedelta(seconds=60)


class AuthenticationFailed(DomainError):
    """One answer for unknown user, wrong password, wrong or replayed code, disabled."""

    code = "invalid_credentials"
    status = 401


class OneTimePasswordExpired(AuthenticationFailed):
    """Right one-time password, but older than 72 hours. Said, like AwaitingApproval,
    only to whoever gave it, and only on the pages where it could be changed."""

    code = "one_time_password_expired"
    status = 401


class AwaitingApproval(AuthenticationFailed):
    """Right password, but a supervisor has not approved the account yet. Raised only
    after the credentials were checked: to anyone else the account answers like a typo."""

    code = "awaiting_approval"
    status = 403


@dataclass(frozen=True)
class NewUser:
    user: User
    totp_secret: str | None
    one_time_password: str | None = None


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def _check_new_user(
    session: DbSession,
    username: str,
    role: str,
    institution: Institution | None,
    institution_code: str,
) -> Institution:
    if (
        not username
        or len(username) > USERNAME_MAX
        or not all(ch.isalnum() or ch in "._-" for ch in username)
    ):
        raise InvalidInput(
            "bad username", {"username": [gettext("Use letras, números, '.', '_' o '-'.")]}
        )
    if role not in ROLES:
        known = ", ".join(f"«{ROLE_LABELS[code]}» ({code})" for code in ROLES)
        raise InvalidInput(
            f"unknown role {role!r}", {"role": [gettext("Elija uno de: %(roles)s.", roles=known)]}
        )
    if institution is None:
        raise InvalidInput(
            f"unknown institution {institution_code!r}",
            {"institution": [gettext("Institución desconocida.")]},
        )
    if institution.kind not in ROLE_KINDS[role]:
        raise InvalidInput(
            f"role {role} does not fit institution kind {institution.kind}",
            {"role": [role_does_not_fit(role, institution.kind)]},
        )
    exists = session.execute(select(User.id).where(User.username == username)).first()
    if exists:
        raise Conflict(
            f"user {username!r} already exists",
            {"username": [gettext("Ese nombre de usuario ya existe.")]},
        )
    return institution


def role_does_not_fit(role: str, kind: str) -> str:
    """Said with the labels people know, never the codes."""
    return gettext(
        "Un rol «%(role)s» no puede pertenecer a una institución de tipo «%(kind)s».",
        role=ROLE_LABELS.get(role, role),
        kind=INSTITUTION_KIND_LABELS.get(kind, kind),
    )


def create_user(
    session: DbSession,
    ring: KeyRing,
    *,
    username: str,
    institution_code: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
    with_totp: bool = True,
    requested_by: User | None = None,
) -> NewUser:
    """Without a password the user gets a one-time one and must change it at first login.

    `requested_by` is the administrator making the account in the web pages: a case role
    then waits for a supervisor's approval. An operator's account (CLI, demo) is ready."""
    username = normalise_username(username)
    institution = session.execute(
        select(Institution).where(Institution.code == institution_code.strip().upper())
    ).scalar_one_or_none()
    institution = _check_new_user(session, username, role, institution, institution_code)
    if password:
        check_new_password(
            password,
            username=username,
            display_name=display_name,
            institution_code=institution.code,
            institution_name=institution.name,
        )
    one_time = None if password else new_one_time_password()
    key_row, cipher = create_data_key(session, ring)
    user = User(
        username=username,
        display_name=display_name or username,
        institution_id=institution.id,
        role=role,
        password_hash=hash_password(password or one_time or ""),
        must_change_password=password is None,
        temp_password_expires_at=None if password else utcnow() + ONE_TIME_PASSWORD_LIFETIME,
        data_key_id=key_row.id,
        requested_by_user_id=requested_by.id if requested_by else None,
        approved_at=None if requested_by and role in APPROVED_ROLES else utcnow(),
    )
    session.add(user)
    session.flush()
    secret = totp.new_secret() if with_totp else None
    if secret:
        user.totp_secret_enc = cipher.seal("users", user.id, "totp_secret", secret)
        # Secrets handed over in person are ready at once; others enrol at first login.
        user.totp_enrolled = password is not None
    session.flush()
    return NewUser(user, secret, one_time)


def new_one_time_password() -> str:
    """22 random characters (128 bits): generated, so the strength rules need not judge it."""
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def set_one_time_password(user: User) -> str:
    """A new one-time password (72 hours) that she must change at first login; every
    session and token of hers ends."""
    one_time = new_one_time_password()
    user.password_hash = hash_password(one_time)
    user.must_change_password = True
    user.temp_password_expires_at = utcnow() + ONE_TIME_PASSWORD_LIFETIME
    end_all_sessions(user)
    return one_time


def password_rules_for(user: User, password: str) -> None:
    """The strength rules, told who she is (so that her own names are refused)."""
    check_new_password(
        password,
        username=user.username,
        display_name=user.display_name,
        institution_code=user.institution.code,
        institution_name=user.institution.name,
    )


def one_time_password_expired(user: User, now: datetime | None = None) -> bool:
    """A one-time password without a deadline counts as expired: fail closed."""
    if not user.must_change_password:
        return False
    deadline = user.temp_password_expires_at
    return deadline is None or deadline <= (now or utcnow())


def totp_secret_of(session: DbSession, ring: KeyRing, user: User) -> str | None:
    if user.totp_secret_enc is None:
        return None
    key_row = session.get_one(DataKey, user.data_key_id)
    return cipher_for(ring, key_row).open_text(
        "users", user.id, "totp_secret", user.totp_secret_enc
    )


def find_user(session: DbSession, username: str) -> User | None:
    stmt = select(User).where(User.username == normalise_username(username))
    return session.execute(stmt).scalar_one_or_none()


@dataclass(frozen=True)
class LoginOutcome:
    user: User
    # The one-time password must be changed, or TOTP enrolled, before any other work.
    needs_setup: bool


def authenticate(
    session: DbSession,
    ring: KeyRing,
    username: str,
    password: str,
    otp: str | None,
    require_mfa: bool,
    *,
    allow_setup: bool = False,
) -> LoginOutcome:
    """Check password and, once enrolled, a fresh TOTP code. Raises one generic error.

    A user who has not finished setting up (one-time password, no TOTP yet) gets in
    only where `allow_setup` (the web's setup pages), never to the API.
    """
    user = find_user(session, username) if len(username or "") <= USERNAME_MAX else None
    password_ok = verify_password(user.password_hash if user else None, password or "")
    if user is None or not password_ok or not user.active:
        raise AuthenticationFailed("invalid credentials")
    if user.totp_enrolled:
        secret = totp_secret_of(session, ring, user)
        step = totp.accepted_step(secret, otp or "", user.totp_last_step) if secret else None
        if step is None:
            raise AuthenticationFailed("invalid credentials")
        user.totp_last_step = step
    if user.awaiting_approval:
        raise AwaitingApproval(gettext("Su cuenta espera la aprobación de una supervisora."))
    needs_setup = user.must_change_password or (require_mfa and not user.totp_enrolled)
    if needs_setup and not allow_setup:
        raise AuthenticationFailed("invalid credentials")
    if one_time_password_expired(user):
        raise OneTimePasswordExpired(
            gettext("Su contraseña temporal venció; pida una nueva al administrador.")
        )
    if needs_rehash(user.password_hash):
        user.password_hash = rehash_password(password)  # parameters raised since it was set
    user.last_login_at = utcnow()
    return LoginOutcome(user, needs_setup)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    session: DbSession, user: User, lifetime: timedelta, ip: str | None = None
) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(
        user_id=user.id,
        token_hash=token_digest(token),
        security_stamp=user.security_stamp,
        created_at=now,
        last_used_at=now,
        expires_at=now + lifetime,
        ip=ip,
    )
    session.add(row)
    session.flush()
    return token, row


def token_is_live(row: ApiToken, idle: timedelta | None, now: datetime) -> bool:
    """Not revoked, not expired, not idle too long, and issued under her current stamp."""
    user = row.user
    last_used = row.last_used_at or row.created_at
    return (
        row.revoked_at is None
        and row.expires_at > now
        and (idle is None or now - last_used <= idle)
        and user.active
        and not user.awaiting_approval
        and row.security_stamp == user.security_stamp
    )


# Every API request starts here: the statement is built once (the digest is bound).
_TOKEN_BY_DIGEST = select(ApiToken).where(ApiToken.token_hash == bindparam("digest"))


def token_and_user(
    session: DbSession,
    token: str,
    now: datetime | None = None,
    idle: timedelta | None = None,
) -> tuple[ApiToken, User] | None:
    """The token row and its live user, or None (expired, revoked, idle longer than
    `idle`, stamp changed). Its last use is written when older than a minute: kept by
    the request's commit."""
    if not token or len(token) > 200:
        return None
    row = session.execute(_TOKEN_BY_DIGEST, {"digest": token_digest(token)}).scalar_one_or_none()
    now = now or utcnow()
    if row is None or not token_is_live(row, idle, now):
        return None
    if now - (row.last_used_at or row.created_at) > TOKEN_TOUCH_EVERY:
        row.last_used_at = now
    return row, row.user


def end_all_sessions(user: User) -> None:
    """Every session and token issued before this moment stops working."""
    user.security_stamp += 1


def end_everyones_sessions(session: DbSession) -> int:
    """After a breach (a stolen database copy, a leaked secret key): every session and
    token of every user stops working at once. Returns how many accounts it touched."""
    result = session.execute(update(User).values(security_stamp=User.security_stamp + 1))
    return int(getattr(result, "rowcount", 0) or 0)


def disable_user(user: User) -> None:
    """Disabled users cannot log in, and every session and token they hold ends now."""
    user.active = False
    end_all_sessions(user)


def set_role(session: DbSession, user: User, role: str, requested_by: User | None = None) -> None:
    """A case role given by an administrator (`requested_by`) waits for approval again."""
    institution = session.get_one(Institution, user.institution_id)
    if role not in ROLES or institution.kind not in ROLE_KINDS[role]:
        said = (
            role_does_not_fit(role, institution.kind)
            if role in ROLES
            else gettext("Este rol no corresponde a la institución.")
        )
        raise InvalidInput("role does not fit", {"role": [said]})
    if requested_by is not None and role in APPROVED_ROLES and role != user.role:
        user.approved_at = None
        user.approved_by_user_id = None
        user.requested_by_user_id = requested_by.id
    user.role = role
    if role not in CASE_ROLES:
        user.lead = False  # a lead carries cases; other roles lead no caseload
    end_all_sessions(user)


def set_lead(user: User, lead: bool) -> None:
    """The institution's lead reassigns its cases and moves a leaver's caseload. Read at
    each request, so taking the flag away takes the right away at once (no logout)."""
    if lead and user.role not in CASE_ROLES:
        raise InvalidInput(
            "only case roles lead", {"lead": ["Solo quien atiende casos puede coordinar."]}
        )
    user.lead = lead
