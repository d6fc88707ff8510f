"""Reading the audit log: filtered listings and the reports supervisors act on."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from app.audit.models import AuditEvent, BreakGlass
from app.auth.models import User
from app.auth.policy import may_read_audit
from app.cases import access
from app.core.db import DbSession
from app.core.errors import Forbidden
from app.core.time import LOCAL_TZ
from app.directory.models import Institution

OFFICE_OPENS = time(7, 0)
OFFICE_CLOSES = time(18, 0)
MAX_ROWS = 1000


def _require_supervisor(user: User) -> None:
    if not may_read_audit(user):
        raise Forbidden("only supervisors read the audit log")


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "username": event.username,
        "institution": event.institution,
        "role": event.role,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "case_id": str(event.case_id) if event.case_id else None,
        "ip": event.ip,
        "reason": event.reason,
        "detail": event.detail,
    }


def list_events(
    session: DbSession,
    user: User,
    *,
    case_id: uuid.UUID | None = None,
    username: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[AuditEvent]:
    _require_supervisor(user)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(min(limit, MAX_ROWS))
    if case_id:
        stmt = stmt.where(AuditEvent.case_id == case_id)
    if username:
        stmt = stmt.where(AuditEvent.username == username.strip().lower())
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(session.execute(stmt).scalars())


def accesses_per_user_per_day(
    session: DbSession, user: User, since: datetime
) -> list[dict[str, Any]]:
    """Case reads per user and (UTC) day, busiest first."""
    _require_supervisor(user)
    day = func.date(AuditEvent.at)
    stmt = (
        select(AuditEvent.username, AuditEvent.institution, day.label("day"), func.count())
        .where(AuditEvent.action == "case_view", AuditEvent.at >= since)
        .group_by(AuditEvent.username, AuditEvent.institution, day)
        .order_by(func.count().desc())
        .limit(MAX_ROWS)
    )
    return [
        {"username": name, "institution": inst, "day": str(d), "reads": count}
        for name, inst, d, count in session.execute(stmt)
    ]


def reads_outside_office_hours(session: DbSession, user: User, since: datetime) -> list[AuditEvent]:
    """Case reads before 7:00, after 18:00 or at weekends, El Salvador time."""
    _require_supervisor(user)
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.action == "case_view", AuditEvent.at >= since)
        .order_by(AuditEvent.id.desc())
        .execution_options(yield_per=1000)
    )
    found = []
    with session.execute(stmt) as result:  # closes the server-side cursor on `break`
        for event in result.scalars():
            local = event.at.astimezone(LOCAL_TZ)
            if local.weekday() >= 5 or not OFFICE_OPENS <= local.time() < OFFICE_CLOSES:
                found.append(event)
                if len(found) >= MAX_ROWS:
                    break
    return found


def reads_by_non_parties(session: DbSession, user: User, since: datetime) -> list[AuditEvent]:
    """Full case reads by an institution that was not a party at that moment. Should be
    none: any row here is a defect or a break-in, not a user's mistake."""
    _require_supervisor(user)
    was_party = access.party_at_the_time(AuditEvent.case_id, Institution.id, AuditEvent.at)
    stmt = (
        select(AuditEvent)
        .join(Institution, Institution.code == AuditEvent.institution)
        .where(
            AuditEvent.action == "case_view",
            AuditEvent.detail == "full",
            AuditEvent.at >= since,
            ~was_party,
        )
        .order_by(AuditEvent.id.desc())
        .limit(MAX_ROWS)
    )
    return list(session.execute(stmt).scalars())


def failed_logins(session: DbSession, user: User, since: datetime) -> list[dict[str, Any]]:
    _require_supervisor(user)
    stmt = (
        select(AuditEvent.username, AuditEvent.ip, func.count(), func.max(AuditEvent.at))
        .where(AuditEvent.action == "login_failed", AuditEvent.at >= since)
        .group_by(AuditEvent.username, AuditEvent.ip)
        .order_by(func.count().desc())
        .limit(MAX_ROWS)
    )
    return [
        {"username": name, "ip": ip, "failures": count, "last": last}
        for name, ip, count, last in session.execute(stmt)
    ]


def break_glass_uses(session: DbSession, user: User, since: datetime) -> list[BreakGlass]:
    _require_supervisor(user)
    stmt = select(BreakGlass).where(BreakGlass.started_at >= since).order_by(BreakGlass.id.desc())
    return list(session.execute(stmt).scalars())


def default_since(days: int = 30) -> datetime:
    from app.core.time import utcnow

    return utcnow() - timedelta(days=days)
