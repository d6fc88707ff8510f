"""Break-glass: a supervisor's emergency, read-only look at one case.

Threat: a supervisor browsing files out of curiosity. Every use needs the password
again (never a recent login instead) and a reason, lasts a fixed time, shows a banner,
is flagged in the audit log, tells the other supervisors, and waits in a queue until
another supervisor (never the same one) says whether it was justified.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import select

from app.audit.models import BreakGlass
from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.models import User
from app.auth.passwords import verify_password
from app.auth.policy import may_read_audit
from app.cases import access
from app.core.db import DbSession
from app.core.errors import CasePurged, Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.notifications.service import notify_supervisors

REASON_MIN = 10
REASON_MAX = 500


def _require_supervisor(user: User | Caller) -> None:
    if not may_read_audit(user):
        raise Forbidden("only supervisors may do this")


def start_break_glass(
    session: DbSession,
    ring: KeyRing,
    user: Caller,
    case_id: uuid.UUID | None,
    reason: str,
    *,
    password: str | None,
    minutes: int,
) -> BreakGlass:
    """Open one case to a supervisor for `minutes`. The password is asked every time: a
    session or token left open on an unattended desk must not be enough. The reason is
    sealed with the case's data key (it may name her)."""
    _require_supervisor(user)
    reason = " ".join((reason or "").split())
    problems = {}
    if len(reason) < REASON_MIN:
        problems["reason"] = [
            gettext("Explique el motivo, en al menos %(n)s caracteres.", n=REASON_MIN)
        ]
    if not password:
        problems["password"] = [
            gettext("Escriba su contraseña: se pide en cada acceso de emergencia.")
        ]
    elif not verify_password(user.password_hash, password):
        problems["password"] = [gettext("La contraseña no es correcta.")]
    if problems:
        raise InvalidInput("break-glass refused", problems)
    case = access.case_by_id(session, case_id)
    if case.purged_at is not None:
        raise CasePurged()
    now = utcnow()
    grant = BreakGlass(
        case_id=case.id,
        user_id=user.id,
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(grant)
    session.flush()  # the id is part of what the seal authenticates
    cipher = cipher_for(ring, case.data_key)
    grant.reason_enc = cipher.seal("break_glass", grant.id, "reason", reason[:REASON_MAX])
    notify_supervisors(
        session, "break_glass", case_id=case.id, reference=case.number, except_user_id=user.id
    )
    session.flush()
    # The reason is sealed in the grant; the audit row names the grant, never the text.
    audit(
        session,
        ring.audit_key,
        user,
        "break_glass",
        object_type="break_glass",
        object_id=grant.id,
        case_id=case.id,
        detail=f"minutes={minutes}",
    )
    return grant


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


def open_reasons(
    session: DbSession, ring: KeyRing, user: User, grants: list[BreakGlass]
) -> dict[int, str | None]:
    """The decrypted reasons of `grants`, for a supervisor reviewing them."""
    _require_supervisor(user)
    ciphers: dict[uuid.UUID, FieldCipher | None] = {}
    reasons = {}
    for grant in grants:
        if grant.case_id not in ciphers:
            case = access.case_by_id(session, grant.case_id)
            purged = case.purged_at is not None  # its key is gone: so is the reason
            ciphers[grant.case_id] = None if purged else cipher_for(ring, case.data_key)
        cipher = ciphers[grant.case_id]
        reasons[grant.id] = (
            cipher.open_text("break_glass", grant.id, "reason", grant.reason_enc)
            if cipher
            else None
        )
    return reasons


def review_break_glass(
    session: DbSession,
    ring: KeyRing,
    user: Caller,
    grant_id: int,
    justified: bool,
    note: str | None,
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
    audit(
        session,
        ring.audit_key,
        user,
        "break_glass",
        object_type="break_glass_review",
        object_id=grant.id,
        case_id=grant.case_id,
        detail=f"justified={grant.justified}",
    )
    return grant
