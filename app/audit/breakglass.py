"""Break-glass: a supervisor's emergency, read-only look at one case.

Threat: a supervisor browsing files out of curiosity. Every use needs the password
again and a reason, lasts a fixed time, shows a banner, is flagged in the audit log,
tells the other supervisors, and waits in a queue until another supervisor (never the
same one) says whether it was justified.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from app.audit.models import BreakGlass
from app.auth.models import User
from app.auth.passwords import verify_password
from app.auth.policy import may_read_audit
from app.cases.models import Case
from app.common import Conflict, DbSession, Forbidden, InvalidInput, NotFound, utcnow
from app.notifications.service import notify_user

REASON_MIN = 10
REASON_MAX = 500


def _require_supervisor(user: User) -> None:
    if not may_read_audit(user):
        raise Forbidden("only supervisors may do this")


def start_break_glass(
    session: DbSession,
    user: User,
    case_id: uuid.UUID | None,
    reason: str,
    *,
    password: str | None,
    minutes: int,
    fresh_login: bool = False,
) -> BreakGlass:
    """Open one case to a supervisor for `minutes`. The password is asked again unless
    the caller proved a fresh login (an API token issued minutes ago)."""
    _require_supervisor(user)
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN:
        raise InvalidInput(
            "reason required",
            {"reason": [f"Explique el motivo, en al menos {REASON_MIN} caracteres."]},
        )
    needs_password = password is not None or not fresh_login
    if needs_password and not verify_password(user.password_hash, password or ""):
        raise InvalidInput("wrong password", {"password": ["La contraseña no es correcta."]})
    case = session.get(Case, case_id) if case_id else None
    if case is None:
        raise NotFound("case not found")
    now = utcnow()
    grant = BreakGlass(
        case_id=case.id,
        user_id=user.id,
        reason=reason[:REASON_MAX],
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(grant)
    session.flush()
    for other in other_supervisors(session, user):
        notify_user(session, other, "break_glass", case_id=case.id, reference=case.number)
    return grant


def other_supervisors(session: DbSession, user: User) -> list[int]:
    stmt = select(User.id).where(
        User.role == "supervisor", User.active.is_(True), User.id != user.id
    )
    return list(session.execute(stmt).scalars())


def active_grant(
    session: DbSession, user: User, case_id: uuid.UUID, now: datetime | None = None
) -> BreakGlass | None:
    if user.role != "supervisor":
        return None
    stmt = (
        select(BreakGlass)
        .where(
            BreakGlass.user_id == user.id,
            BreakGlass.case_id == case_id,
            BreakGlass.expires_at > (now or utcnow()),
        )
        .order_by(BreakGlass.expires_at.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def pending_reviews(session: DbSession, user: User) -> list[BreakGlass]:
    _require_supervisor(user)
    stmt = (
        select(BreakGlass).where(BreakGlass.reviewed_at.is_(None)).order_by(BreakGlass.started_at)
    )
    return list(session.execute(stmt).scalars())


def review_break_glass(
    session: DbSession, user: User, grant_id: int, justified: bool, note: str | None
) -> BreakGlass:
    _require_supervisor(user)
    grant = session.get(BreakGlass, grant_id)
    if grant is None:
        raise NotFound("break-glass record not found")
    if grant.user_id == user.id:
        raise Forbidden("a supervisor cannot review her own break-glass")
    if grant.reviewed_at is not None:
        raise Conflict("already reviewed")
    grant.reviewed_by_user_id = user.id
    grant.reviewed_at = utcnow()
    grant.justified = justified
    grant.review_note = (note or "").strip()[:REASON_MAX] or None
    return grant
