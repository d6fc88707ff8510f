"""The network indicators' numbers, kept between requests as the counts are (`stored.py`).

Triggers (migration 0031) note the month of each referral sent, follow-up due, breach
and rape recorded that a write may have changed. What adds up is stored per month:
referrals sent and completed by receiver, follow-ups due and done on time, breaches and
reassessments, rapes reported within 72 hours and cared for in time; a year is the sum
of its months. A month that reaches today also depends on the day (follow-ups count up
to today), so it is stamped with the day as well.

Medians do not add up: each month and each year keeps its own. To count a year's again
after a write, each month also keeps its referrals' durations (days, by measure and
receiver; no case is named): the month written to is read again, the others are not.

Referrals overdue are the open ones past their due date today: each month keeps its open
referrals by due date. High-risk cases are counted as they are now, kept under the
pseudo-month `current`, which the triggers note when a case's risk or status or a
measure's status changes.
"""

from __future__ import annotations

import base64
import json
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.core.db import DbSession
from app.reports import network_counts as counted
from app.reports.cube import month_end, period_kind
from app.reports.network_counts import Durations, Medians, Open
from app.reports.stored import INDICATORS, StoredCounts, month_code, months_of, stored_counts


@dataclass
class Numbers:
    """One period's indicator numbers, unsuppressed."""

    referrals: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    open: Open = field(default_factory=dict)
    follow_ups: list[int] = field(default_factory=lambda: [0, 0])
    breaches: list[int] = field(default_factory=lambda: [0, 0])
    rapes: list[int] = field(default_factory=lambda: [0, 0])
    medians: Medians = field(default_factory=dict)
    high_risk: list[int] = field(default_factory=lambda: [0, 0])  # now, not in the period

    def add(self, other: Numbers) -> None:
        """Add `other`'s counts (not its medians) to these."""
        for key, (sent, completed) in other.referrals.items():
            mine = self.referrals.setdefault(key, [0, 0])
            mine[0] += sent
            mine[1] += completed
        for due, n in other.open.items():
            self.open[due] = self.open.get(due, 0) + n
        for name in ("follow_ups", "breaches", "rapes"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, [a + b for a, b in zip(mine, theirs, strict=True)])


def count_numbers(session: DbSession, start: date, end: date, today: date) -> Numbers:
    """The period's numbers from the record, now."""
    return Numbers(
        counted.referral_counts(session, start, end),
        counted.open_referrals(session, start, end),
        counted.follow_up_counts(session, start, end, today),
        counted.breach_counts(session, start, end),
        counted.rape_window_counts(session, start, end),
        counted.referral_medians(session, start, end),
        counted.high_risk_counts(session),
    )


def period_numbers(session: DbSession, start: date, end: date, today: date) -> Numbers:
    """The numbers of `start`–`end`: from what is stored for a whole month or year,
    counted now (and stored) where a month has changed; counted afresh otherwise."""
    kind = period_kind(start, end)
    if kind is None:
        return count_numbers(session, start, end, today)
    view = stored_counts(session, INDICATORS)
    months = months_of(start, end)
    makers: dict[str, Callable[[], str]] = {}
    stamps: dict[str, str] = {}
    for first in months:
        key = f"ind|{month_code(first)}|counts"
        stamps[key] = _stamp(view, first, today)
        makers[key] = _counting(session, first, today)
    period = month_code(start) if kind == "month" else str(start.year)
    medians_key = f"ind|{period}|medians"
    stamps[medians_key] = view.generations(months)
    makers[medians_key] = lambda: encode_medians(counted.medians_of(_durations(view, months)))
    stamps[HIGH_RISK] = view.generations_of([CURRENT])
    makers[HIGH_RISK] = lambda: json.dumps(counted.high_risk_counts(session))
    texts = view.texts(stamps, lambda missing: {key: makers[key]() for key in missing})
    total = Numbers(
        medians=decode_medians(texts.pop(medians_key)), high_risk=json.loads(texts.pop(HIGH_RISK))
    )
    for text in texts.values():
        total.add(decode_counts(text))
    return total


# The pseudo-month the triggers note for what holds now (migration 0031).
CURRENT = "current"
HIGH_RISK = "ind|current|high_risk"


def _durations(view: StoredCounts, months: list[date]) -> Durations:
    """The referrals' durations of these months, each month's stored or read now."""
    stamps = {f"ind|{month_code(first)}|durations": view.generations([first]) for first in months}
    firsts = dict(zip(stamps, months, strict=True))

    def read(missing: list[str]) -> dict[str, str]:
        session = view.session
        return {
            key: encode_durations(
                counted.referral_durations(session, firsts[key], month_end(firsts[key]))
            )
            for key in missing
        }

    found: defaultdict[tuple[int, str, int], list[float]] = defaultdict(list)
    for text in view.texts(stamps, read).values():
        for key, values in decode_durations(text).items():
            found[key].extend(values)
    return found


def _stamp(view: StoredCounts, first: date, today: date) -> str:
    generation = view.generations([first])
    return f"{generation}@{today.isoformat()}" if month_end(first) >= today else generation


def _counting(session: DbSession, first: date, today: date) -> Callable[[], str]:
    def count() -> str:
        last = month_end(first)
        return encode_counts(
            Numbers(
                counted.referral_counts(session, first, last),
                counted.open_referrals(session, first, last),
                counted.follow_up_counts(session, first, last, today),
                counted.breach_counts(session, first, last),
                counted.rape_window_counts(session, first, last),
            )
        )

    return count


def encode_counts(numbers: Numbers) -> str:
    referrals = [[service, to, *sent] for (service, to), sent in numbers.referrals.items()]
    still_open = [
        [service, to, due.isoformat(), n] for (service, to, due), n in numbers.open.items()
    ]
    added = [numbers.follow_ups, numbers.breaches, numbers.rapes]
    return json.dumps([referrals, still_open, *added], separators=(",", ":"))


def decode_counts(text: str) -> Numbers:
    referrals, still_open, follow_ups, breaches, rapes = json.loads(text)
    by_receiver = {(service, to): [sent, done] for service, to, sent, done in referrals}
    by_due = {(service, to, date.fromisoformat(due)): n for service, to, due, n in still_open}
    return Numbers(by_receiver, by_due, follow_ups, breaches, rapes)


def encode_medians(medians: Medians) -> str:
    rows: list[Any] = [[*key, *value] for key, value in medians.items()]
    return json.dumps(rows, separators=(",", ":"))


def encode_durations(durations: Durations) -> str:
    """Each receiver's durations as packed doubles: a year of them is read back in
    milliseconds, exactly."""
    rows = [
        [*key, base64.b64encode(array("d", values).tobytes()).decode()]
        for key, values in durations.items()
    ]
    return json.dumps(rows, separators=(",", ":"))


def decode_durations(text: str) -> Durations:
    return {
        (measure, service, institution): array("d", base64.b64decode(packed)).tolist()
        for measure, service, institution, packed in json.loads(text)
    }


def decode_medians(text: str) -> Medians:
    return {(m, s, i): (n, median) for m, s, i, n, median in json.loads(text)}
