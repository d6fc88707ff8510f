"""Recovering an account whose password or TOTP device is lost.

Threat: the recovery path is the easiest way into an account, a caseworker's included.
So no one person can use it: an administrator asks, with the reason, on the user's page;
a supervisor who neither asked nor owns the account decides. Approved, every credential
of hers ends at once (password, TOTP secret, sessions, tokens, trusted devices and
addresses); the administrator then hands over a new one-time password in person, and she
sets a password and enrols TOTP again at her first login. Every step is audited as
`account_recovery` (the one-time password as `user_update`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit
from app.auth.accounts import require_admin, require_approver, usernames
from app.auth.caller import Caller
from app.auth.devices import forget_places
from app.auth.models import AccountRecovery, User
from app.auth.passwords import hash_password
from app.auth.service import end_all_sessions, new_one_time_password, set_one_time_password
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import utcnow

REASON_MIN = 10
REASON_MAX = 300


def _account(session: DbSession, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("Cuenta desconocida.")
    return user


def _waiting(session: DbSession, user_id: int) -> AccountRecovery | None:
    stmt = select(AccountRecovery).where(
        AccountRecovery.user_id == user_id, AccountRecovery.decided_at.is_(None)
    )
    return session.execute(stmt).scalar_one_or_none()


@dataclass(frozen=True)
class AccountPage:
    """What the administrator's page of one account shows."""

    user: User
    recoveries: list[AccountRecovery]  # newest first
    names: dict[int, str]  # who asked and who decided

    @property
    def waiting(self) -> AccountRecovery | None:
        return next((r for r in self.recoveries if r.pending), None)


def account_page(session: DbSession, caller: Caller, user_id: int) -> AccountPage:
    require_admin(caller)
    user = _account(session, user_id)
    stmt = (
        select(AccountRecovery)
        .where(AccountRecovery.user_id == user.id)
        .order_by(AccountRecovery.requested_at.desc(), AccountRecovery.id.desc())
        .limit(10)
    )
    rows = list(session.execute(stmt).scalars())
    people = {i for r in rows for i in (r.requested_by_user_id, r.decided_by_user_id)}
    return AccountPage(user, rows, usernames(session, people))


def start_recovery(
    session: DbSession, audit_key: bytes, caller: Caller, user_id: int, reason: str
) -> AccountRecovery:
    """An administrator asks for the recovery of another's active account, saying why."""
    require_admin(caller)
    user = _account(session, user_id)
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN or len(reason) > REASON_MAX:
        message = gettext(
            "Explique el motivo, entre %(least)s y %(most)s caracteres.",
            least=REASON_MIN,
            most=REASON_MAX,
        )
        raise InvalidInput("bad reason", {"reason": [message]})
    if user.id == caller.id:
        raise Forbidden(
            gettext("Otra persona de administración debe pedir la recuperación de su cuenta.")
        )
    if not user.active:
        raise Conflict(gettext("La cuenta está desactivada."))
    if _waiting(session, user.id) is not None:
        raise Conflict(
            gettext("Ya hay una recuperación de esta cuenta que espera a una supervisora.")
        )
    recovery = AccountRecovery(user_id=user.id, reason=reason, requested_by_user_id=caller.id)
    session.add(recovery)
    session.flush()
    _audit(session, audit_key, caller, recovery, "requested", reason)
    return recovery


def pending_recoveries(session: DbSession, caller: Caller) -> list[AccountRecovery]:
    require_approver(caller)
    stmt = (
        select(AccountRecovery)
        .where(AccountRecovery.decided_at.is_(None))
        .order_by(AccountRecovery.requested_at, AccountRecovery.id)
    )
    return list(session.execute(stmt).scalars())


def decide_recovery(
    session: DbSession, audit_key: bytes, caller: Caller, recovery_id: int, approve: bool
) -> AccountRecovery:
    """A supervisor other than the one who asked, and not the account's owner, decides."""
    require_approver(caller)
    recovery = session.get(AccountRecovery, recovery_id)
    if recovery is None:
        raise NotFound(gettext("Recuperación desconocida."))
    if not recovery.pending:
        raise Conflict(gettext("Esta recuperación ya fue decidida."))
    if caller.id in (recovery.user_id, recovery.requested_by_user_id):
        raise Forbidden(gettext("Otra supervisora debe decidir sobre esta recuperación."))
    recovery.decided_at = utcnow()
    recovery.decided_by_user_id = caller.id
    recovery.approved = approve
    if approve:
        reset_credentials(session, recovery.user)
    _audit(session, audit_key, caller, recovery, "approved" if approve else "refused")
    return recovery


def reset_credentials(session: DbSession, user: User) -> None:
    """Nothing she (or whoever holds her phone or laptop) had works any more. The account
    waits for the administrator's new one-time password (`issue_one_time_password`)."""
    user.password_hash = hash_password(new_one_time_password())  # known to no one
    user.must_change_password = True
    user.temp_password_expires_at = utcnow()  # already expired: a new one is needed
    user.totp_secret_enc = None
    user.totp_enrolled = False
    forget_places(session, user)
    end_all_sessions(user)


@dataclass(frozen=True)
class OneTimePassword:
    user: User
    password: str  # shown once, to be handed over in person


def issue_one_time_password(
    session: DbSession, audit_key: bytes, caller: Caller, user_id: int
) -> OneTimePassword:
    """A new one-time password for an account still to be set up: one whose one-time
    password expired, or one a supervisor approved the recovery of. An account in use
    gets none here: that is what the recovery, with its second person, is for."""
    require_admin(caller)
    user = _account(session, user_id)
    if user.id == caller.id or not user.active:
        raise Forbidden(gettext("No puede emitir una contraseña temporal para esta cuenta."))
    if not user.must_change_password:
        raise Conflict(
            gettext("La cuenta ya está en uso: pida una recuperación, que aprueba una supervisora.")
        )
    password = set_one_time_password(user)
    audit(
        session,
        audit_key,
        caller,
        "user_update",
        object_type="user",
        object_id=user.id,
        detail="one_time_password",
    )
    return OneTimePassword(user, password)


def _audit(
    session: DbSession,
    audit_key: bytes,
    caller: Caller,
    recovery: AccountRecovery,
    step: str,
    reason: str | None = None,
) -> None:
    audit(
        session,
        audit_key,
        caller,
        "account_recovery",
        object_type="user",
        object_id=recovery.user_id,
        reason=reason,
        detail=f"{step};recovery={recovery.id}",
    )
