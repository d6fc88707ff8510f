"""Users, credentials and API tokens. No Flask request here: callers pass what it needs."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app.audit.service import audit, record_event
from app.auth import totp
from app.auth.caller import Caller
from app.auth.models import APPROVED_ROLES, ROLE_KINDS, ROLES, ApiToken, User
from app.auth.passwords import hash_password, needs_rehash, rehash_password, verify_password
from app.auth.policy import may_manage_users
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from app.core.time import utcnow
from app.crypto.keyring import KeyRing
from app.crypto.models import DataKey
from app.crypto.service import cipher_for, create_data_key
from app.directory.models import Institution

USERNAME_MAX = 60


class AuthenticationFailed(DomainError):
    """One answer for unknown user, wrong password, wrong or replayed code, disabled."""

    code = "invalid_credentials"
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
        raise InvalidInput("bad username", {"username": ["Use letras, números, '.', '_' o '-'."]})
    if role not in ROLES:
        raise InvalidInput(
            f"unknown role {role!r}", {"role": [f"Choose one of {', '.join(ROLES)}."]}
        )
    if institution is None:
        raise InvalidInput(
            f"unknown institution {institution_code!r}",
            {"institution": ["Institución desconocida."]},
        )
    if institution.kind not in ROLE_KINDS[role]:
        raise InvalidInput(
            f"role {role} does not fit institution kind {institution.kind}",
            {"role": [f"A {role} cannot belong to a {institution.kind} institution."]},
        )
    exists = session.execute(select(User.id).where(User.username == username)).first()
    if exists:
        raise Conflict(
            f"user {username!r} already exists", {"username": ["Ese nombre de usuario ya existe."]}
        )
    return institution


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
    one_time = None if password else secrets.token_urlsafe(12)
    key_row, cipher = create_data_key(session, ring)
    user = User(
        username=username,
        display_name=display_name or username,
        institution_id=institution.id,
        role=role,
        password_hash=hash_password(password or one_time or ""),
        must_change_password=password is None,
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
        raise AwaitingApproval("Su cuenta espera la aprobación de una supervisora.")
    if needs_rehash(user.password_hash):
        user.password_hash = rehash_password(password)  # parameters raised since it was set
    needs_setup = user.must_change_password or (require_mfa and not user.totp_enrolled)
    if needs_setup and not allow_setup:
        raise AuthenticationFailed("invalid credentials")
    user.last_login_at = utcnow()
    return LoginOutcome(user, needs_setup)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: DbSession, user: User, lifetime: timedelta) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=token_digest(token),
        security_stamp=user.security_stamp,
        expires_at=utcnow() + lifetime,
    )
    session.add(row)
    session.flush()
    return token, row


def token_and_user(
    session: DbSession, token: str, now: datetime | None = None
) -> tuple[ApiToken, User] | None:
    """The token row and its live user, or None (expired, revoked, stamp changed)."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token))
    ).scalar_one_or_none()
    now = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = row.user
    if not user.active or user.awaiting_approval or row.security_stamp != user.security_stamp:
        return None
    return row, user


def end_all_sessions(user: User) -> None:
    """Every session and token issued before this moment stops working."""
    user.security_stamp += 1


def disable_user(user: User) -> None:
    """Disabled users cannot log in, and every session and token they hold ends now."""
    user.active = False
    end_all_sessions(user)


def set_role(session: DbSession, user: User, role: str, requested_by: User | None = None) -> None:
    """A case role given by an administrator (`requested_by`) waits for approval again."""
    institution = session.get_one(Institution, user.institution_id)
    if role not in ROLES or institution.kind not in ROLE_KINDS[role]:
        raise InvalidInput(
            "role does not fit", {"role": ["Este rol no corresponde a la institución."]}
        )
    if requested_by is not None and role in APPROVED_ROLES and role != user.role:
        user.approved_at = None
        user.approved_by_user_id = None
        user.requested_by_user_id = requested_by.id
    user.role = role
    end_all_sessions(user)


# ---- the administrators' user pages ----------------------------------------------------
# What an administrator does to accounts, each change with its audit row. Other faces
# (the CLI) use the plain functions above and audit as the operator.

USER_ACTIONS = ("disable", "role", "end_sessions")


class UnknownAction(DomainError):
    code = "bad_request"
    status = 400


def require_admin(caller: Caller) -> None:
    if not may_manage_users(caller):
        raise Forbidden("Solo la administración gestiona usuarios.")


def list_users(session: DbSession, caller: Caller) -> list[User]:
    require_admin(caller)
    return list(session.execute(select(User).order_by(User.username)).scalars())


def create_account(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    *,
    username: str,
    institution_code: str,
    role: str,
    display_name: str,
) -> NewUser:
    """An account with a one-time password; a case role waits for a supervisor."""
    require_admin(caller)
    created = create_user(
        session,
        ring,
        username=username,
        institution_code=institution_code,
        role=role,
        display_name=display_name,
        password=None,
        requested_by=caller.user,
    )
    waiting = ";awaiting_approval" if created.user.awaiting_approval else ""
    audit(
        session,
        ring.audit_key,
        caller,
        "user_create",
        object_type="user",
        object_id=created.user.id,
        detail=f"role={created.user.role}{waiting}",
    )
    return created


def update_account(
    session: DbSession, audit_key: bytes, caller: Caller, user_id: int, action: str, role: str
) -> User:
    """Disable, give another role, or end every session; each ends the user's sessions."""
    require_admin(caller)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Cuenta desconocida.")
    if action == "disable":
        disable_user(user)
    elif action == "role":
        set_role(session, user, role, requested_by=caller.user)
    elif action == "end_sessions":
        end_all_sessions(user)
    else:
        raise UnknownAction(f"unknown action; use one of {', '.join(USER_ACTIONS)}")
    audit(
        session,
        audit_key,
        caller,
        "user_update",
        object_type="user",
        object_id=user.id,
        detail=action,
    )
    return user


# ---- approval of accounts (separation of duties) --------------------------------------
# Threat: an administrator making herself, or a friend, an account that reads the cases
# of a unit. The account stays shut until a supervisor, who neither asked for it nor
# owns it, approves; a refusal disables it.


def require_approver(caller: Caller) -> None:
    if not (caller.active and caller.role == "supervisor"):
        raise Forbidden("Solo una supervisora aprueba cuentas.")


def pending_accounts(session: DbSession, caller: Caller) -> list[User]:
    require_approver(caller)
    stmt = (
        select(User)
        .where(User.approved_at.is_(None), User.active.is_(True), User.role.in_(APPROVED_ROLES))
        .order_by(User.created_at, User.id)
    )
    return list(session.execute(stmt).scalars())


def approve_account(
    session: DbSession, audit_key: bytes, caller: Caller, user_id: int, approve: bool
) -> User:
    """Approve (or refuse, which disables) an account that waits; audited as `user_approve`."""
    require_approver(caller)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Cuenta desconocida.")
    if not (user.active and user.awaiting_approval):
        raise Conflict("Esta cuenta no espera aprobación.")
    if caller.id in (user.id, user.requested_by_user_id):
        raise Forbidden("Otra supervisora debe decidir sobre una cuenta que usted pidió.")
    if approve:
        user.approved_at = utcnow()
        user.approved_by_user_id = caller.id
    else:
        disable_user(user)
    record_event(
        session,
        audit_key,
        caller.actor(),
        "user_approve",
        object_type="user",
        object_id=user.id,
        detail="approved" if approve else "refused",
    )
    return user


def usernames(session: DbSession, ids: set[int | None]) -> dict[int, str]:
    """Who requested, approved or reviewed: ids to usernames, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all()
    return {user_id: name for user_id, name in rows}
