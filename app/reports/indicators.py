"""How the network works: referrals completed and how fast, overdue work, follow-ups
done on time, high-risk cases under an active protection measure, and breached measures
followed by a new risk assessment within 24 hours.

Like the counts, only cases with consent to statistics count, and small numbers are
shown as "<5". A share or a median is given only over five or more referrals (or
follow-ups, or cases), and never where it would let a "<5" count be computed back.
The numbers come from `stored_indicators.py`, which keeps them between requests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from app.core.db import DbSession
from app.core.time import local_today
from app.directory.models import Institution
from app.reports.labels import service_names
from app.reports.network_counts import MEASURES, ByReceiver, Medians, overdue
from app.reports.stored_indicators import Numbers, period_numbers
from app.reports.suppression import SMALL, THRESHOLD, Shown


def shown(count: int) -> Shown:
    return SMALL if 0 < count < THRESHOLD else count


def share(part: int, whole: int) -> float | None:
    if whole < THRESHOLD or 0 < part < THRESHOLD:
        return None
    return round(part / whole, 3)


def median_days(count: int, median: float | None) -> float | None:
    return round(median, 1) if count >= THRESHOLD and median is not None else None


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

    def of(self, service: str | None, institution: int | None) -> Tally:
        if service is not None:
            return self.by_service[service]
        return self.overall if institution is None else self.by_institution[institution]


def tally_referrals(
    sent: dict[tuple[str, int], list[int]], overdue: ByReceiver, medians: Medians
) -> ReferralTallies:
    tallies = ReferralTallies()
    for (service, institution_id), (total, completed) in sent.items():
        for tally in tallies.each(service, institution_id):
            tally.referrals += total
            tally.completed += completed
    for (service, institution_id), late in overdue.items():
        for tally in tallies.each(service, institution_id):
            tally.overdue += late
    for (measure, of_service, of_institution), median in medians.items():
        setattr(tallies.of(of_service, of_institution), MEASURES[measure], median)
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


def _pair(numbers: list[int], names: tuple[str, str, str]) -> dict[str, Any]:
    whole, part = numbers
    return {names[0]: shown(whole), names[1]: shown(part), names[2]: share(part, whole)}


def network_indicators(session: DbSession, start: date, end: date) -> dict[str, Any]:
    today = local_today()
    numbers: Numbers = period_numbers(session, start, end, today)
    late = overdue(numbers.open, today)
    tallies = tally_referrals(numbers.referrals, late, numbers.medians)
    services = {code: (code, name) for code, name in service_names(session).items()}
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "referrals": tallies.overall.summary(),
        "by_service": _grouped(tallies.by_service, services),
        "by_institution": _grouped(tallies.by_institution, _institution_labels(session)),
        "follow_ups": _pair(numbers.follow_ups, ("due", "on_time", "on_time_share")),
        "high_risk": _pair(numbers.high_risk, ("cases", "with_active_measure", "share")),
        "measures_breached": _pair(
            numbers.breaches, ("breached", "reassessed_within_24h", "reassessed_share")
        ),
        "rape_window": _pair(
            numbers.rapes, ("reported_within_72h", "cared_within_window", "cared_share")
        ),
    }
