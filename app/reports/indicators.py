"""How the network works: referrals completed and how fast, overdue work, follow-ups
done on time, and high-risk cases under an active protection measure.

Like the counts, only cases with consent to statistics count, and small numbers are
shown as "<5". A share or a median is given only over five or more referrals (or
follow-ups, or cases), and never where it would let a "<5" count be computed back.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from app.auth.models import Institution
from app.cases.care_models import FollowUp
from app.cases.legal_models import ProtectionMeasure
from app.cases.models import Case
from app.common import LOCAL_TZ, local_today
from app.referrals.models import Referral, ReferralEvent
from app.reports.dimensions import days_between
from app.reports.labels import service_names
from app.reports.suppression import SMALL, THRESHOLD, Shown

LIVE = ("sent", "accepted", "in_progress")


@dataclass(frozen=True)
class ReferralRow:
    service: str
    institution_id: int
    completed: bool
    overdue: bool
    days_to_accept: float | None
    days_to_complete: float | None


def shown(count: int) -> Shown:
    return SMALL if 0 < count < THRESHOLD else count


def share(part: int, whole: int) -> float | None:
    if whole < THRESHOLD or 0 < part < THRESHOLD:
        return None
    return round(part / whole, 3)


def median_days(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 1) if len(known) >= THRESHOLD else None


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last local day as UTC instants [from, to)."""
    first = datetime.combine(start, time.min, LOCAL_TZ)
    after = datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ)
    return first.astimezone(UTC), after.astimezone(UTC)


def referral_rows(session: Session, start: date, end: date) -> list[ReferralRow]:
    """One row per referral sent in the period, durations computed by the database."""
    dialect = session.get_bind().dialect.name
    since, until = utc_bounds(start, end)
    accepted = and_(ReferralEvent.referral_id == Referral.id, ReferralEvent.action == "accept")
    overdue = and_(Referral.status.in_(LIVE), Referral.due_on < local_today())
    stmt = (
        select(
            Referral.service,
            Referral.to_institution_id,
            Referral.status,
            case((overdue, 1), else_=0),
            days_between(dialect, ReferralEvent.at, Referral.created_at),
            days_between(dialect, Referral.closed_at, Referral.created_at),
        )
        .join(Case, Case.id == Referral.case_id)
        .outerjoin(ReferralEvent, accepted)
        .where(
            Case.consent_statistics.is_(True),
            Referral.created_at >= since,
            Referral.created_at < until,
        )
    )
    return [
        ReferralRow(
            service,
            institution_id,
            status == "completed",
            bool(late),
            None if to_accept is None else float(to_accept),
            float(to_close) if status == "completed" and to_close is not None else None,
        )
        for service, institution_id, status, late, to_accept, to_close in session.execute(stmt)
    ]


def referral_summary(rows: list[ReferralRow]) -> dict[str, Any]:
    total, completed = len(rows), sum(r.completed for r in rows)
    return {
        "referrals": shown(total),
        "completed": shown(completed),
        "completed_share": share(completed, total),
        "overdue": shown(sum(r.overdue for r in rows)),
        "median_days_to_accept": median_days(r.days_to_accept for r in rows),
        "median_days_to_complete": median_days(r.days_to_complete for r in rows),
    }


def _grouped(
    rows: list[ReferralRow], key: str, labels: dict[Any, tuple[str, str]]
) -> list[dict[str, Any]]:
    groups: dict[Any, list[ReferralRow]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    items = []
    for value, group in groups.items():
        code, label = labels.get(value, (str(value), str(value)))
        items.append({"key": code, "label": label, **referral_summary(group)})
    return sorted(items, key=lambda item: item["label"])


def _institution_labels(session: Session) -> dict[Any, tuple[str, str]]:
    rows = session.execute(select(Institution.id, Institution.code, Institution.name))
    return {row[0]: (row[1], row[2]) for row in rows}


def follow_up_summary(session: Session, start: date, end: date) -> dict[str, Any]:
    """Follow-ups due in the period (up to today) and how many were done by their date."""
    last = min(end, local_today())
    on_time = and_(FollowUp.done_on.is_not(None), FollowUp.done_on <= FollowUp.due_on)
    due, done = session.execute(
        select(func.count(), func.count().filter(on_time))
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            Case.consent_statistics.is_(True),
            FollowUp.due_on >= start,
            FollowUp.due_on <= last,
        )
    ).one()
    return {"due": shown(due), "on_time": shown(done), "on_time_share": share(done, due)}


def high_risk_summary(session: Session) -> dict[str, Any]:
    """Open high-risk cases today, and how many have a protection measure in force."""
    in_force = exists().where(
        ProtectionMeasure.case_id == Case.id, ProtectionMeasure.status == "active"
    )
    cases, protected = session.execute(
        select(func.count(), func.count().filter(in_force)).where(
            Case.consent_statistics.is_(True),
            Case.risk_level == "high",
            Case.status != "closed",
        )
    ).one()
    return {
        "cases": shown(cases),
        "with_active_measure": shown(protected),
        "share": share(protected, cases),
    }


def network_indicators(session: Session, start: date, end: date) -> dict[str, Any]:
    rows = referral_rows(session, start, end)
    services = {code: (code, name) for code, name in service_names(session).items()}
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "referrals": referral_summary(rows),
        "by_service": _grouped(rows, "service", services),
        "by_institution": _grouped(rows, "institution_id", _institution_labels(session)),
        "follow_ups": follow_up_summary(session, start, end),
        "high_risk": high_risk_summary(session),
    }
