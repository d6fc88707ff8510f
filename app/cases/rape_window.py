"""The 72-hour window after a rape: post-exposure prophylaxis (PEP) within 72 hours,
emergency contraception within 120 hours (DOMAIN.md, urgency `immediate`).

Incidents record the day, not the hour: the window is counted from the start of that
day in El Salvador (00:00 local), the earliest moment it can have happened. The hours
left are therefore never more than she really has; an incident late in the day shows a
window that closes a few hours early. Pure functions: the presenter, the case page and
the indicators ask these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.core.time import LOCAL_TZ

PEP_HOURS = 72
EC_HOURS = 120
RAPE = "rape"


@dataclass(frozen=True)
class Window:
    pep_until: datetime
    ec_until: datetime

    def hours_left(self, until: datetime, now: datetime) -> int:
        """Whole hours left (rounded down), never below zero."""
        return max(0, int((until - now).total_seconds() // 3600))

    def as_dict(self, now: datetime) -> dict[str, object]:
        return {
            "pep_until": self.pep_until.isoformat(),
            "ec_until": self.ec_until.isoformat(),
            "pep_hours_left": self.hours_left(self.pep_until, now),
            "ec_hours_left": self.hours_left(self.ec_until, now),
            "pep_open": now < self.pep_until,
        }


def window_from(occurred_on: date) -> Window:
    start = datetime.combine(occurred_on, time(0), tzinfo=LOCAL_TZ)
    return Window(start + timedelta(hours=PEP_HOURS), start + timedelta(hours=EC_HOURS))


def reported_within(occurred_on: date, reported_at: datetime, hours: int) -> bool:
    start = datetime.combine(occurred_on, time(0), tzinfo=LOCAL_TZ)
    return reported_at <= start + timedelta(hours=hours)


def open_window(
    gbvims_type: str, occurred_on: date, reported_at: datetime, voided: bool, now: datetime
) -> Window | None:
    """The window of a rape reported inside it, while emergency contraception is still
    possible; None otherwise (another type, voided, reported late, or past 120 hours)."""
    if gbvims_type != RAPE or voided or not reported_within(occurred_on, reported_at, EC_HOURS):
        return None
    window = window_from(occurred_on)
    return window if now < window.ec_until else None
