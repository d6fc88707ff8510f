"""What administrators and supervisors do to accounts, each change with its audit row:
the administrators' user pages, and the supervisors' approval of the accounts they made
(separation of duties). The CLI uses the plain functions of `service` and audits as the
operator."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit, record_event
from app.auth.caller import Caller
from app.auth.models import APPROVED_ROLES, User
from app.auth.policy import may_manage_users
from app.auth.service import (
    NewUser,
    create_user,
    disable_user,
    end_all_sessions,
    end_everyones_sessions,
    set_lead,
    set_role,
)
from app.auth.sessions import confirm_password
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.time import utcnow
from app.crypto.keyring import KeyRing

# ---- the administrators' user pages ----------------------------------------------------
# What an administrator does to accounts, each change with its audit row.

USER_ACTIONS = ("disable", "role", "end_sessions", "make_lead", "remove_lead")


class UnknownAction(DomainError):
    code = "bad_request"
    status = 400


def require_admin(caller: Caller) -> None:
    if not may_manage_users(caller):
        raise Forbidden(gettext("Solo la administración gestiona usuarios."))


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
    """Disable, give another role, or end every session (each ends the user's sessions);
    or make a case-role user her institution's lead, or no longer."""
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
    elif action in ("make_lead", "remove_lead"):
        set_lead(user, action == "make_lead")
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


def end_every_session(
    session: DbSession, audit_key: bytes, caller: Caller, password: str | None
) -> int:
    """After a breach: every session and token of every user ends, the administrator's
    own too. Her password first: one click from a browser left open would stop the whole
    network. Returns how many accounts it touched; audited as `user_update`."""
    require_admin(caller)
    confirm_password(caller, password)
    count = end_everyones_sessions(session)
    audit(session, audit_key, caller, "user_update", object_type="user", detail="end_sessions_all")
    return count


# ---- approval of accounts (separation of duties) --------------------------------------
# Threat: an administrator making herself, or a friend, an account that reads the cases
# of a unit. The account stays shut until a supervisor, who neither asked for it nor
# owns it, approves; a refusal disables it.


def require_approver(caller: Caller) -> None:
    if not (caller.active and caller.role == "supervisor"):
        raise Forbidden(gettext("Solo una supervisora aprueba cuentas."))


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
        raise Conflict(gettext("Esta cuenta no espera aprobación."))
    if caller.id in (user.id, user.requested_by_user_id):
        raise Forbidden(gettext("Otra supervisora debe decidir sobre una cuenta que usted pidió."))
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
