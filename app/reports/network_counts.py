"""The network indicators' numbers for one period, straight from the record and not yet
suppressed (`indicators.py` shows them; `stored_indicators.py` keeps them).

Only cases with consent to statistics count. Referrals count in the local day they were
sent, follow-ups on the day they fell due, breaches on the day of the breach and rapes
on the day they were recorded.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
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
from app.core.time import LOCAL_TZ
from app.referrals.models import Referral, ReferralEvent
from app.reports.dimensions import days_between

LIVE = ("sent", "accepted", "in_progress")
AnySelect = TypeVar("AnySelect", bound=Select)
# (service, receiving institution) → a number of referrals
ByReceiver = dict[tuple[str, int], int]
# (measure, service or None, institution or None) → (how many durations, their median);
# a None key stands for every value of it
Medians = dict[tuple[int, str | None, int | None], tuple[int, float]]


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last local day as UTC instants [from, to)."""
    first = datetime.combine(start, time.min, LOCAL_TZ)
    after = datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ)
    return first.astimezone(UTC), after.astimezone(UTC)


def _sent_in(stmt: AnySelect, start: date, end: date) -> AnySelect:
    """Referrals sent in the period, of cases that consented to statistics."""
    since, until = utc_bounds(start, end)
    return stmt.join(Case, Case.id == Referral.case_id).where(
        Case.consent_statistics.is_(True),
        Referral.created_at >= since,
        Referral.created_at < until,
    )


RECEIVER = (Referral.service, Referral.to_institution_id)


def referral_counts(session: DbSession, start: date, end: date) -> dict[tuple[str, int], list[int]]:
    """Referrals sent in the period and how many of them are completed, by receiver."""
    stmt = select(
        *RECEIVER, func.count(), func.count().filter(Referral.status == "completed")
    ).group_by(*RECEIVER)
    rows = session.execute(_sent_in(stmt, start, end))
    return {(service, to): [sent, completed] for service, to, sent, completed in rows}


# (service, receiving institution, due date) → referrals still open
Open = dict[tuple[str, int, date], int]


def open_referrals(session: DbSession, start: date, end: date) -> Open:
    """Referrals sent in the period and still open, by receiver and due date."""
    group = (*RECEIVER, Referral.due_on)
    stmt = select(*group, func.count()).where(Referral.status.in_(LIVE)).group_by(*group)
    rows = session.execute(_sent_in(stmt, start, end))
    return {(service, to, due_on): n for service, to, due_on, n in rows}


def overdue(open_now: Open, today: date) -> ByReceiver:
    """Of the referrals open, those past their due date today, by receiver."""
    late: defaultdict[tuple[str, int], int] = defaultdict(int)
    for (service, to, due_on), n in open_now.items():
        if due_on < today:
            late[service, to] += n
    return dict(late)


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


def referral_medians(session: DbSession, start: date, end: date) -> Medians:
    """The median days to acceptance and to completion of the referrals sent in the
    period: for the network, each service and each receiver."""
    dialect = session.get_bind().dialect.name
    stacked = _stacked(_durations(dialect, start, end))
    found = medians(session, stacked, ("measure", "service", "institution"), "days")
    return {
        (int(measure), service, institution): (count, float(median))
        for (measure, service, institution), (count, median) in found.items()
    }


# (measure, service, receiving institution) → its durations in days, in order
Durations = dict[tuple[int, str, int], list[float]]


def referral_durations(session: DbSession, start: date, end: date) -> Durations:
    """Each duration of the referrals sent in the period, by measure and receiver."""
    durations = _durations(session.get_bind().dialect.name, start, end)
    found: defaultdict[tuple[int, str, int], list[float]] = defaultdict(list)
    for service, institution, *days in session.execute(select(durations)):
        for measure, value in enumerate(days):
            if value is not None:
                found[measure, service, institution].append(value)
    return {key: sorted(values) for key, values in found.items()}


def medians_of(durations: Durations) -> Medians:
    """The medians `referral_medians` gives, from durations already read: each receiver's
    durations count for it, its service and the network."""
    groups: defaultdict[tuple[int, str | None, int | None], list[float]] = defaultdict(list)
    for (measure, service, institution), values in durations.items():
        for key in ((measure, None, None), (measure, service, None), (measure, None, institution)):
            groups[key].extend(values)
    return {key: (len(values), statistics.median(values)) for key, values in groups.items()}


def follow_up_counts(session: DbSession, start: date, end: date, today: date) -> list[int]:
    """Follow-ups due in the period up to today, and how many were done by their date."""
    on_time = and_(FollowUp.done_on.is_not(None), FollowUp.done_on <= FollowUp.due_on)
    due, done = session.execute(
        select(func.count(), func.count().filter(on_time))
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            Case.consent_statistics.is_(True),
            FollowUp.due_on >= start,
            FollowUp.due_on <= min(end, today),
        )
    ).one()
    return [due, done]


def high_risk_counts(session: DbSession) -> list[int]:
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
    return [cases, protected]


def breach_counts(session: DbSession, start: date, end: date) -> list[int]:
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
    return [len(rows), len([row for row in rows if _reassessed_in_time(row[0], row[1])])]


def _reassessed_in_time(breached: datetime | None, assessed: datetime | None) -> bool:
    return breached is not None and assessed is not None and assessed - breached <= REASSESS_WITHIN


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


def rape_window_counts(session: DbSession, start: date, end: date) -> list[int]:
    """Rapes recorded in the period and reported within 72 h, and how many got medical
    care (a medical note, or a completed medical referral) inside the window."""
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
    return [len(rapes), cared]
