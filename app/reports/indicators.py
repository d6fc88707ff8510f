"""How the network works: referrals completed and how fast, overdue work, follow-ups
done on time, high-risk cases under an active protection measure, and breached measures
followed by a new risk assessment within 24 hours.

Like the counts, only cases with consent to statistics count, and small numbers are
shown as "<5". A share or a median is given only over five or more referrals (or
follow-ups, or cases), and never where it would let a "<5" count be computed back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    CTE,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

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


def median_days(count: int, median: float | None) -> float | None:
    return round(median, 1) if count >= THRESHOLD and median is not None else None


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last local day as UTC instants [from, to)."""
    first = datetime.combine(start, time.min, LOCAL_TZ)
    after = datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ)
    return first.astimezone(UTC), after.astimezone(UTC)


@dataclass
class Tally:
    """One group's referrals: counts, and how many durations and their median (both
    from the database)."""

    referrals: int = 0
    completed: int = 0
    overdue: int = 0
    to_accept: tuple[int, float | None] = (0, None)
    to_complete: tuple[int, float | None] = (0, None)

    def summary(self) -> dict[str, Any]:
        return {
            "referrals": shown(self.referrals),
            "completed": shown(self.completed),
            "completed_share": share(self.completed, self.referrals),
            "overdue": shown(self.overdue),
            "median_days_to_accept": median_days(*self.to_accept),
            "median_days_to_complete": median_days(*self.to_complete),
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


# Each duration counted thrice, for the network, its service and its receiver: one
# reading of the referrals gives all the medians.
MEASURES = ("to_accept", "to_complete")


def _durations(dialect: str, start: date, end: date) -> CTE:
    """Days to acceptance and to completion, one row per referral (and acceptance)."""
    completed = Referral.status == "completed"
    accepted = and_(ReferralEvent.referral_id == Referral.id, ReferralEvent.action == "accept")
    to_complete = case((completed, days_between(dialect, Referral.closed_at, Referral.created_at)))
    stmt = (
        select(
            Referral.service.label("service"),
            Referral.to_institution_id.label("institution"),
            cast(days_between(dialect, ReferralEvent.at, Referral.created_at), Float).label(
                "to_accept"
            ),
            cast(to_complete, Float).label("to_complete"),
        )
        .outerjoin(ReferralEvent, accepted)
        .where(or_(ReferralEvent.id.is_not(None), completed))
    )
    return _sent_in(stmt, start, end).cte("durations")


def _stacked(durations: CTE) -> Subquery:
    """(measure, service, institution, days): a NULL key stands for every value of it."""
    no_service, no_institution = cast(null(), String), cast(null(), Integer)
    levels = (
        (no_service, no_institution),
        (durations.c.service, no_institution),
        (no_service, durations.c.institution),
    )
    parts = [
        select(
            literal_column(str(number)).label("measure"),
            service.label("service"),
            institution.label("institution"),
            durations.c[name].label("days"),
        ).where(durations.c[name].is_not(None))
        for number, name in enumerate(MEASURES)
        for service, institution in levels
    ]
    return union_all(*parts).subquery("stacked")


def medians(
    session: DbSession, values: FromClause, by: Sequence[str], value: str
) -> dict[tuple[Any, ...], tuple[int, float]]:
    """How many non-NULL `value`s each group of `by` has, and their exact median (the
    middle one, or the mean of the middle two, as statistics.median)."""
    keys = [values.c[name] for name in by]
    column = values.c[value]
    if session.get_bind().dialect.name == "postgresql":
        stmt = (
            select(*keys, func.count(), func.percentile_cont(0.5).within_group(column))
            .where(column.is_not(None))
            .group_by(*keys)
        )
    else:
        stmt = _window_median(keys, column)
    return {tuple(row[:-2]): (row[-2], row[-1]) for row in session.execute(stmt)}


def _window_median(keys: list[Any], column: Any) -> Select[Any]:
    """SQLite has no percentile: each group ranked by value, its middle rank or two
    (2 * rank between n and n + 2) averaged."""
    ranked = (
        select(
            *keys,
            column.label("value"),
            func.row_number().over(partition_by=keys, order_by=column).label("rank"),
            func.count().over(partition_by=keys).label("n"),
        )
        .where(column.is_not(None))
        .subquery("ranked")
    )
    groups = [ranked.c[key.key] for key in keys]
    middle = (2 * ranked.c.rank).between(ranked.c.n, ranked.c.n + 2)
    return (
        select(*groups, func.max(ranked.c.n), func.avg(ranked.c.value))
        .where(middle)
        .group_by(*groups)
    )


def _time_referrals(session: DbSession, tallies: ReferralTallies, start: date, end: date) -> None:
    dialect = session.get_bind().dialect.name
    stacked = _stacked(_durations(dialect, start, end))
    found = medians(session, stacked, ("measure", "service", "institution"), "days")
    for (measure, service, institution), median in found.items():
        tally = _tally_of(tallies, service, institution)
        setattr(tally, MEASURES[int(measure)], median)


def _tally_of(tallies: ReferralTallies, service: str | None, institution: int | None) -> Tally:
    if service is not None:
        return tallies.by_service[service]
    return tallies.overall if institution is None else tallies.by_institution[institution]


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

# The window opens at 00:00 local time, at most 14 hours either side of the day's 00:00
# UTC: 72 hours after it is always within four days of the day.
NEAR_DAYS = rape_window.PEP_HOURS / 24 + 1


def _rapes_reported_in_window(session: DbSession, start: date, end: date) -> list[Any]:
    """Rapes recorded in the period and reported within 72 h: (case id, window)."""
    stmt = select(Incident.case_id, Incident.occurred_on, Incident.created_at)
    return [
        (case_id, rape_window.window_from(occurred_on), occurred_on)
        for case_id, occurred_on, reported_at in session.execute(
            _rapes_near(session, stmt, start, end)
        )
        if rape_window.reported_within(occurred_on, reported_at, rape_window.PEP_HOURS)
    ]


def _rapes_near(session: DbSession, stmt: AnySelect, start: date, end: date) -> AnySelect:
    """Rapes recorded in the period no later than NEAR_DAYS after their day: only those
    can have been reported within 72 h, which rape_window then tells exactly."""
    since, until = utc_bounds(start, end)
    dialect = session.get_bind().dialect.name
    return stmt.join(Case, Case.id == Incident.case_id).where(
        Case.consent_statistics.is_(True),
        Case.merged_into_id.is_(None),
        Incident.gbvims_type == rape_window.RAPE,
        Incident.voided_at.is_(None),
        Incident.created_at >= since,
        Incident.created_at < until,
        days_between(dialect, Incident.created_at, Incident.occurred_on) <= NEAR_DAYS,
    )


def _medical_care_times(session: DbSession, case_ids: Select[Any]) -> dict[Any, list[datetime]]:
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
    near = _rapes_near(session, select(Incident.case_id), start, end)
    care = _medical_care_times(session, near) if rapes else {}
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
