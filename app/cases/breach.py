"""The breach fast lane (issue 13): a protection measure marked breached tells the police
of her municipality, the prosecutors working on her case and the supervisors, and asks
for a new risk assessment within 24 hours.

"Her municipality" is the 2024 one her district (`survivors.municipality`, one of the
262 former municipalities) belongs to: a survivor of the Sonzacate district is the
concern of the PNC family units of every district of Sonsonate Centro. Where the
municipality has none, the department's units are told instead, so that a breach is
never told to nobody. A unit that is not a party to the case learns the case number
only, and is asked to call the institution that recorded it: a notification never
widens anyone's access to her record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.auth.caller import Caller
from app.cases import access
from app.cases.legal_models import ProtectionMeasure
from app.core.db import DbSession
from app.core.time import utcnow
from app.directory.models import District, Institution
from app.notifications.service import notify_institution, notify_supervisors

BREACHED = "breached"
REASSESS_WITHIN = timedelta(hours=24)


def record_breach(
    session: DbSession,
    user: Caller,
    case_id: uuid.UUID,
    case_number: str,
    measure: ProtectionMeasure,
    status_before: str,
) -> bool:
    """When the measure has just become breached: who and when, and the notices. Marking
    an already breached measure breached again changes and tells nothing."""
    if measure.status != BREACHED or status_before == BREACHED:
        return False
    measure.breached_at = utcnow()
    measure.breached_by = user.id
    notify_breach(session, case_id, case_number)
    return True


def notify_breach(session: DbSession, case_id: uuid.UUID, case_number: str) -> None:
    parties = access.live_party_institutions(session, case_id)
    police = police_of_her_municipality(session, access.survivor_district(session, case_id))
    for unit in sorted(police):
        # A unit outside the case is told to call whoever recorded it; it gets no access.
        kind = "measure_breached" if unit in parties else "measure_breached_nearby"
        notify_institution(session, unit, kind, case_id=case_id, reference=case_number)
    prosecutors = access.live_party_institutions(session, case_id, kind="prosecutor")
    for prosecutor in sorted(prosecutors - police):
        notify_institution(
            session, prosecutor, "measure_breached", case_id=case_id, reference=case_number
        )
    notify_supervisors(session, "measure_breached", case_id=case_id, reference=case_number)


def police_of_her_municipality(session: DbSession, district_code: str) -> set[int]:
    """The active PNC family units of her 2024 municipality, else of her department."""
    district = session.get(District, district_code)
    if district is None:
        return set()
    units: set[int] = set()
    if district.municipality_2024:
        units = _police_units(session, District.municipality_2024 == district.municipality_2024)
    return units or _police_units(session, District.department == district.department)


def _police_units(session: DbSession, place: Any) -> set[int]:
    stmt = (
        select(Institution.id)
        .join(District, District.code == Institution.municipality)
        .where(Institution.kind == "pnc_family_unit", Institution.active.is_(True), place)
    )
    return set(session.execute(stmt).scalars())


def reassessment_due_at(breached_at: datetime) -> datetime:
    return breached_at + REASSESS_WITHIN


def pending_reassessment(
    breaches: Iterable[datetime | None], assessments: Iterable[datetime]
) -> datetime | None:
    """By when a new risk assessment is due: 24 h after the oldest breach that no
    assessment has followed yet (None: nothing pending)."""
    last = max(assessments, default=None)
    pending = [at for at in breaches if at is not None and (last is None or last < at)]
    return reassessment_due_at(min(pending)) if pending else None
