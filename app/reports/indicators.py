"""How the network works: referrals completed and how fast, overdue work, follow-ups
done on time, high-risk cases under an active protection measure, and breached measures
followed by a new risk assessment within 24 hours.

Like the counts, only cases with consent to statistics count, and small numbers are
shown as "<5". A share or a median is given only over five or more referrals (or
follow-ups, or cases), and never where it would let a "<5" count be computed back.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import Float, Select, and_, case, cast, exists, func, or_, select

from app.cases import rape_window
from app.cases.breach import REASSESS_WITHIN
from app.cases.care_models import CareNote, FollowUp, RiskAssessment
from app.cases.legal_models import ProtectionMeasure
from app.cases.models import Case, Incident
from app.core.db import DbSession
from app.core.time import LOCAL_TZ, local_today
from app.directory.models import Institution
from app.referrals.models import Referral, ReferralEvent
from app.reports.dimensions import days_between
from app.reports.labels import service_names
from app.reports.suppression import SMALL, THRESHOLD, Shown

LIVE = ("sent", "accepted", "in_progress")
AnySelect = TypeVar("AnySelect", bound=Select)


def shown(count: int) -> Shown:
    return SMALL if 0 < count < THRESHOLD else count


def share(part: int, whole: int) -> float | None:
    if whole < THRESHOLD or 0 < part < THRESHOLD:
        return None
    return round(part / whole, 3)


def median_days(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if len(values) >= THRESHOLD else None


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last local day as UTC instants [from, to)."""
    first = datetime.combine(start, time.min, LOCAL_TZ)
    after = datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ)
    return first.astimezone(UTC), after.astimezone(UTC)


@dataclass
class Tally:
    """One group's referrals: counts from the database, durations for the medians."""

    referrals: int = 0
    completed: int = 0
    overdue: int = 0
    to_accept: list[float] = field(default_factory=list)
    to_complete: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "referrals": shown(self.referrals),
            "completed": shown(self.completed),
            "completed_share": share(self.completed, self.referrals),
            "overdue": shown(self.overdue),
            "median_days_to_accept": median_days(self.to_accept),
            "median_days_to_complete": median_days(self.to_complete),
        }


@dataclass
class ReferralTallies:
    overall: Tally = field(default_factory=Tally)
    by_service: defaultdict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_institution: defaultdict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))

    def each(self, service: str, institution_id: int) -> tuple[Tally, Tally, Tally]:
        return self.overall, self.by_service[service], self.by_institution[institution_id]


def _sent_in(stmt: AnySelect, start: date, end: date) -> AnySelect:
    """Referrals sent in the period, of cases that consented to statistics."""
    since, until = utc_bounds(start, end)
    return stmt.join(Case, Case.id == Referral.case_id).where(
        Case.consent_statistics.is_(True),
        Referral.created_at >= since,
        Referral.created_at < until,
    )


def _count_referrals(session: DbSession, tallies: ReferralTallies, start: date, end: date) -> None:
    overdue = and_(Referral.status.in_(LIVE), Referral.due_on < local_today())
    group = (Referral.service, Referral.to_institution_id)
    stmt = select(
        *group,
        func.count(),
        func.count().filter(Referral.status == "completed"),
        func.count().filter(overdue),
    ).group_by(*group)
    for service, institution_id, total, completed, late in session.execute(
        _sent_in(stmt, start, end)
    ):
        for tally in tallies.each(service, institution_id):
            tally.referrals += total
            tally.completed += completed
            tally.overdue += late


def _time_referrals(session: DbSession, tallies: ReferralTallies, start: date, end: date) -> None:
    """Days to acceptance and to completion, computed by the database, one row each."""
    dialect = session.get_bind().dialect.name
    completed = Referral.status == "completed"
    accepted = and_(ReferralEvent.referral_id == Referral.id, ReferralEvent.action == "accept")
    stmt = (
        select(
            Referral.service,
            Referral.to_institution_id,
            cast(days_between(dialect, ReferralEvent.at, Referral.created_at), Float),
            cast(
                case((completed, days_between(dialect, Referral.closed_at, Referral.created_at))),
                Float,
            ),
        )
        .outerjoin(ReferralEvent, accepted)
        .where(or_(ReferralEvent.id.is_not(None), completed))
    )
    for service, institution_id, to_accept, to_complete in session.execute(
        _sent_in(stmt, start, end)
    ):
        for tally in tallies.each(service, institution_id):
            if to_accept is not None:
                tally.to_accept.append(to_accept)
            if to_complete is not None:
                tally.to_complete.append(to_complete)


def tally_referrals(session: DbSession, start: date, end: date) -> ReferralTallies:
    tallies = ReferralTallies()
    _count_referrals(session, tallies, start, end)
    _time_referrals(session, tallies, start, end)
    return tallies


def _grouped(tallies: dict[Any, Tally], labels: dict[Any, tuple[str, str]]) -> list[dict[str, Any]]:
    items = []
    for value, tally in tallies.items():
        code, label = labels.get(value, (str(value), str(value)))
        items.append({"key": code, "label": label, **tally.summary()})
    return sorted(items, key=lambda item: item["label"])


def _institution_labels(session: DbSession) -> dict[Any, tuple[str, str]]:
    rows = session.execute(select(Institution.id, Institution.code, Institution.name))
    return {row[0]: (row[1], row[2]) for row in rows}


def follow_up_summary(session: DbSession, start: date, end: date) -> dict[str, Any]:
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


def high_risk_summary(session: DbSession) -> dict[str, Any]:
    """Open high-risk cases today, and how many have a protection measure in force."""
    in_force = exists().where(
        ProtectionMeasure.case_id == Case.id, ProtectionMeasure.status == "active"
    )
    cases, protected = session.execute(
        select(func.count(), func.count().filter(in_force)).where(
            Case.consent_statistics.is_(True),
            Case.risk_level == "high",
            Case.status != "closed",
            Case.merged_into_id.is_(None),  # an absorbed record is counted in the other one
        )
    ).one()
    return {
        "cases": shown(cases),
        "with_active_measure": shown(protected),
        "share": share(protected, cases),
    }


def breach_summary(session: DbSession, start: date, end: date) -> dict[str, Any]:
    """Measures marked breached in the period, and how many of them a risk assessment
    followed within 24 hours (the breach fast lane's promise)."""
    since, until = utc_bounds(start, end)
    first_after = (
        select(func.min(RiskAssessment.created_at))
        .where(
            RiskAssessment.case_id == ProtectionMeasure.case_id,
            RiskAssessment.created_at >= ProtectionMeasure.breached_at,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(ProtectionMeasure.breached_at, first_after)
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .where(
            Case.consent_statistics.is_(True),
            ProtectionMeasure.breached_at >= since,
            ProtectionMeasure.breached_at < until,
        )
    ).all()
    followed = len([row for row in rows if _reassessed_in_time(row[0], row[1])])
    return {
        "breached": shown(len(rows)),
        "reassessed_within_24h": shown(followed),
        "reassessed_share": share(followed, len(rows)),
    }


def _reassessed_in_time(breached: datetime | None, assessed: datetime | None) -> bool:
    return breached is not None and assessed is not None and assessed - breached <= REASSESS_WITHIN


def network_indicators(session: DbSession, start: date, end: date) -> dict[str, Any]:
    tallies = tally_referrals(session, start, end)
    services = {code: (code, name) for code, name in service_names(session).items()}
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "referrals": tallies.overall.summary(),
        "by_service": _grouped(tallies.by_service, services),
        "by_institution": _grouped(tallies.by_institution, _institution_labels(session)),
        "follow_ups": follow_up_summary(session, start, end),
        "high_risk": high_risk_summary(session),
        "measures_breached": breach_summary(session, start, end),
        "rape_window": rape_window_summary(session, start, end),
    }


# ---- the 72-hour window after a rape (app/cases/rape_window.py) -------------------------


def _rapes_reported_in_window(session: DbSession, start: date, end: date) -> list[Any]:
    """Rapes recorded in the period and reported within 72 h: (case id, window)."""
    since, until = utc_bounds(start, end)
    stmt = (
        select(Incident.case_id, Incident.occurred_on, Incident.created_at)
        .join(Case, Case.id == Incident.case_id)
        .where(
            Case.consent_statistics.is_(True),
            Case.merged_into_id.is_(None),
            Incident.gbvims_type == rape_window.RAPE,
            Incident.voided_at.is_(None),
            Incident.created_at >= since,
            Incident.created_at < until,
        )
    )
    return [
        (case_id, rape_window.window_from(occurred_on), occurred_on)
        for case_id, occurred_on, reported_at in session.execute(stmt)
        if rape_window.reported_within(occurred_on, reported_at, rape_window.PEP_HOURS)
    ]


def _medical_care_times(session: DbSession, case_ids: set[Any]) -> dict[Any, list[datetime]]:
    """When each case got medical care: a medical care note (the start of the day it was
    given, local time) or a medical referral completed."""
    times: dict[Any, list[datetime]] = defaultdict(list)
    notes = select(CareNote.case_id, CareNote.given_on).where(
        CareNote.case_id.in_(case_ids), CareNote.kind == "medical"
    )
    for case_id, given_on in session.execute(notes):
        times[case_id].append(datetime.combine(given_on, time.min, LOCAL_TZ))
    referrals = select(Referral.case_id, Referral.closed_at).where(
        Referral.case_id.in_(case_ids),
        Referral.service == "medical",
        Referral.status == "completed",
    )
    for case_id, closed_at in session.execute(referrals):
        if closed_at is not None:
            times[case_id].append(closed_at)
    return times


def rape_window_summary(session: DbSession, start: date, end: date) -> dict[str, Any]:
    """Rapes reported within 72 h in the period, and how many got medical care (a
    medical note, or a completed medical referral) inside the window."""
    rapes = _rapes_reported_in_window(session, start, end)
    care = _medical_care_times(session, {case_id for case_id, _w, _d in rapes}) if rapes else {}
    cared = sum(
        1
        for case_id, window, occurred_on in rapes
        if any(
            datetime.combine(occurred_on, time.min, LOCAL_TZ) <= at < window.pep_until
            for at in care.get(case_id, [])
        )
    )
    return {
        "reported_within_72h": shown(len(rapes)),
        "cared_within_window": shown(cared),
        "cared_share": share(cared, len(rapes)),
    }
