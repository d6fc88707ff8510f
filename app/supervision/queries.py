"""Reading the audit log: filtered listings and the reports supervisors act on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select

from app.audit.models import AuditEvent, BreakGlass
from app.auth.models import User
from app.auth.policy import may_read_audit
from app.cases import access
from app.core.db import DbSession
from app.core.errors import Forbidden, InvalidInput
from app.directory.models import Institution
from app.supervision.clock import LocalDay, outside_office_hours
from app.supervision.paging import Page, paged

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


@dataclass(frozen=True)
class EventFilters:
    """What the supervisor narrows the log to. `day` is an El Salvador date."""

    since: datetime | None = None
    username: str | None = None
    action: str | None = None
    case_id: uuid.UUID | None = None
    day: date | None = None
    out_of_hours: bool = False


def _filtered(stmt: Any, filters: EventFilters) -> Any:
    if filters.case_id:
        stmt = stmt.where(AuditEvent.case_id == filters.case_id)
    if filters.username:
        stmt = stmt.where(AuditEvent.username == filters.username.strip().lower())
    if filters.since:
        stmt = stmt.where(AuditEvent.at >= filters.since)
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.day:
        stmt = stmt.where(LocalDay(AuditEvent.at) == filters.day)
    if filters.out_of_hours:
        stmt = stmt.where(outside_office_hours(AuditEvent.at))
    return stmt


def list_events(
    session: DbSession,
    user: User,
    *,
    case_id: uuid.UUID | None = None,
    username: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    case_number: str | None = None,
    limit: int = 200,
) -> list[AuditEvent]:
    _require_supervisor(user)
    if case_number is not None:
        case_id = _case_of_number(session, case_number, case_id)
    filters = EventFilters(since=since, username=username, action=action, case_id=case_id)
    stmt = _filtered(select(AuditEvent), filters)
    stmt = stmt.order_by(AuditEvent.id.desc()).limit(min(limit, MAX_ROWS))
    return list(session.execute(stmt).scalars())


def _case_of_number(session: DbSession, number: str, case_id: uuid.UUID | None) -> uuid.UUID | None:
    found = access.case_id_by_number(session, number.strip().upper())
    if found is None:
        raise InvalidInput(
            "unknown case number",
            {"case_number": [f"No hay ningún expediente con el número {number}."]},
        )
    if case_id is not None and case_id != found:
        return uuid.UUID(int=0)  # two filters that name different cases: nothing matches
    return found


def event_dicts(session: DbSession, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """The API's rows: each with its case's number beside the id."""
    numbers = access.case_numbers(session, {e.case_id for e in events if e.case_id})
    return [
        {**event_dict(e), "case_number": numbers.get(e.case_id) if e.case_id else None}
        for e in events
    ]


def event_page(
    session: DbSession, user: User, filters: EventFilters, number: int = 1
) -> Page[AuditEvent]:
    """One page of the log, newest first, with the count of all that match."""
    _require_supervisor(user)
    stmt = _filtered(select(AuditEvent), filters).order_by(AuditEvent.id.desc())
    rows, number, total = paged(session, stmt, number)
    return Page([row[0] for row in rows], number, total)


def _reads_per_user_day(since: datetime) -> Any:
    day = LocalDay(AuditEvent.at).label("day")
    return (
        select(
            AuditEvent.user_id,
            AuditEvent.username,
            AuditEvent.institution,
            day,
            func.count().label("reads"),
        )
        .where(AuditEvent.action == "case_view", AuditEvent.at >= since)
        .group_by(AuditEvent.user_id, AuditEvent.username, AuditEvent.institution, day)
        .order_by(func.count().desc(), day.desc(), AuditEvent.username)
    )


def _day_row(row: Any) -> dict[str, Any]:
    day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
    return {
        "user_id": row.user_id,
        "username": row.username,
        "institution": row.institution,
        "day": day.isoformat(),
        "reads": row.reads,
    }


def accesses_per_user_per_day(
    session: DbSession, user: User, since: datetime
) -> list[dict[str, Any]]:
    """Case reads per user and El Salvador day, busiest first."""
    _require_supervisor(user)
    rows = session.execute(_reads_per_user_day(since).limit(MAX_ROWS))
    return [_day_row(row) for row in rows]


def reads_per_user_day_page(
    session: DbSession, user: User, since: datetime, number: int = 1
) -> Page[dict[str, Any]]:
    _require_supervisor(user)
    rows, number, total = paged(session, _reads_per_user_day(since), number)
    return Page([_day_row(row) for row in rows], number, total)


def reads_outside_office_hours(session: DbSession, user: User, since: datetime) -> list[AuditEvent]:
    """Case reads before 7:00, after 18:00 or at weekends, El Salvador time, newest first."""
    _require_supervisor(user)
    stmt = (
        select(AuditEvent)
        .where(
            AuditEvent.action == "case_view",
            AuditEvent.at >= since,
            outside_office_hours(AuditEvent.at),
        )
        .order_by(AuditEvent.id.desc())
        .limit(MAX_ROWS)
    )
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class NightReads:
    """One user's case reads out of office hours on one El Salvador day."""

    user_id: int | None
    username: str | None
    institution: str | None
    day: date
    reads: int
    first: datetime
    last: datetime
    cases: int


def out_of_hours_groups(
    session: DbSession, user: User, since: datetime, number: int = 1
) -> Page[NightReads]:
    """Reads out of office hours grouped per user and local day: dozens of reads of one
    night are one line with their count, first and last time and the cases touched."""
    _require_supervisor(user)
    day = LocalDay(AuditEvent.at).label("day")
    stmt = (
        select(
            AuditEvent.user_id,
            AuditEvent.username,
            AuditEvent.institution,
            day,
            func.count().label("reads"),
            func.min(AuditEvent.at).label("first"),
            func.max(AuditEvent.at).label("last"),
            func.count(distinct(AuditEvent.case_id)).label("cases"),
        )
        .where(
            AuditEvent.action == "case_view",
            AuditEvent.at >= since,
            outside_office_hours(AuditEvent.at),
        )
        .group_by(AuditEvent.user_id, AuditEvent.username, AuditEvent.institution, day)
        .order_by(day.desc(), func.count().desc(), AuditEvent.username)
    )
    rows, number, total = paged(session, stmt, number)
    groups = [
        NightReads(
            row.user_id,
            row.username,
            row.institution,
            row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day)),
            row.reads,
            row.first,
            row.last,
            row.cases,
        )
        for row in rows
    ]
    return Page(groups, number, total)


def _non_party_reads(since: datetime) -> Any:
    was_party = access.party_at_the_time(AuditEvent.case_id, Institution.id, AuditEvent.at)
    return (
        select(AuditEvent)
        .join(Institution, Institution.code == AuditEvent.institution)
        .where(
            AuditEvent.action == "case_view",
            AuditEvent.detail == "full",
            AuditEvent.at >= since,
            ~was_party,
        )
        .order_by(AuditEvent.id.desc())
    )


def reads_by_non_parties(session: DbSession, user: User, since: datetime) -> list[AuditEvent]:
    """Full case reads by an institution that was not a party at that moment. Should be
    none: any row here is a defect or a break-in, not a user's mistake."""
    _require_supervisor(user)
    return list(session.execute(_non_party_reads(since).limit(MAX_ROWS)).scalars())


def non_party_reads_page(
    session: DbSession, user: User, since: datetime, number: int = 1
) -> Page[AuditEvent]:
    _require_supervisor(user)
    rows, number, total = paged(session, _non_party_reads(since), number)
    return Page([row[0] for row in rows], number, total)


def _failed_logins(since: datetime) -> Any:
    return (
        select(
            AuditEvent.username,
            AuditEvent.ip,
            func.count().label("failures"),
            func.max(AuditEvent.at).label("last"),
        )
        .where(AuditEvent.action == "login_failed", AuditEvent.at >= since)
        .group_by(AuditEvent.username, AuditEvent.ip)
        .order_by(func.count().desc(), AuditEvent.username, AuditEvent.ip)
    )


def _failure(row: Any) -> dict[str, Any]:
    return {"username": row.username, "ip": row.ip, "failures": row.failures, "last": row.last}


def failed_logins(session: DbSession, user: User, since: datetime) -> list[dict[str, Any]]:
    _require_supervisor(user)
    return [_failure(row) for row in session.execute(_failed_logins(since).limit(MAX_ROWS))]


def failed_logins_page(
    session: DbSession, user: User, since: datetime, number: int = 1
) -> Page[dict[str, Any]]:
    _require_supervisor(user)
    rows, number, total = paged(session, _failed_logins(since), number)
    return Page([_failure(row) for row in rows], number, total)


def break_glass_uses(session: DbSession, user: User, since: datetime) -> list[BreakGlass]:
    _require_supervisor(user)
    stmt = select(BreakGlass).where(BreakGlass.started_at >= since).order_by(BreakGlass.id.desc())
    return list(session.execute(stmt).scalars())


def default_since(days: int = 30) -> datetime:
    from app.core.time import utcnow

    return utcnow() - timedelta(days=days)
