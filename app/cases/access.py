"""Which view of a case a user gets: the whole record, metadata only, or nothing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from app.audit.breakglass import active_grant
from app.auth.models import User
from app.auth.policy import may_read_audit, may_work_on_cases
from app.cases.models import Case
from app.cases.records import case_metadata, case_record
from app.cases.service import get_case_for, load_full_case
from app.common import DbSession, Forbidden, NotFound
from app.crypto.keyring import KeyRing

FULL, METADATA, BREAK_GLASS = "full", "metadata", "break_glass"


def _department_case(
    session: DbSession, case_id: uuid.UUID | None, department: str, full: bool
) -> Case:
    if case_id is None:
        raise NotFound("case not found")
    stmt = select(Case).where(Case.id == case_id, Case.number.startswith(f"{department}-"))
    if full:
        stmt = stmt.join(Case.survivor).options(
            contains_eager(Case.survivor), joinedload(Case.data_key)
        )
        case = load_full_case(session, stmt, case_id)
    else:
        case = session.execute(stmt.options(selectinload(Case.parties))).scalar_one_or_none()
    if case is None:
        raise NotFound("case not found")
    return case


def read_case(
    session: DbSession, ring: KeyRing, user: User, case_id: uuid.UUID | None, department: str
) -> tuple[Case, dict[str, Any], str]:
    """The case, the view of it this user may see, and which view that is.

    Parties see everything. A supervisor sees metadata of her department's cases, and
    the whole record only while a break-glass grant of hers is running. Nobody else.
    """
    if may_work_on_cases(user):
        case = get_case_for(session, user, case_id, full=True)
        return case, case_record(ring, case, user.institution_id), FULL
    if not may_read_audit(user):
        raise Forbidden("this role does not read case records")
    grant = active_grant(session, user, case_id) if case_id else None
    case = _department_case(session, case_id, department, full=grant is not None)
    if grant is not None:
        return case, case_record(ring, case, user.institution_id), BREAK_GLASS
    return case, case_metadata(case), METADATA
