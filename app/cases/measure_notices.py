"""The notice a week before a protection measure ends (issue 13), sent once per measure
by the daily job `measures notify-expiring`, so that the court can be asked in time
to extend it."""

from __future__ import annotations

from datetime import date

from app.cases import access
from app.cases.complaints import EXPIRY_WARNING_DAYS
from app.core.db import DbSession
from app.core.time import local_today, utcnow
from app.notifications.service import notify_institution


def notify_expiring_measures(session: DbSession, today: date | None = None) -> int:
    """Tell every live party of the case, once, of each active measure ending within a
    week; returns how many measures were told of."""
    today = today or local_today()
    due = access.expiring_measures_to_notify(session, today, EXPIRY_WARNING_DAYS)
    for measure, number in due:
        for institution_id in sorted(access.live_party_institutions(session, measure.case_id)):
            notify_institution(
                session,
                institution_id,
                "measure_expiring",
                case_id=measure.case_id,
                reference=number,
            )
        measure.expiry_notified_at = utcnow()
    session.flush()
    return len(due)
