"""Who may do what: the one access policy every case query and endpoint goes through.

Pure functions of the user (and, for rows, a SQL clause), so the rules can be tested
alone. A case is visible to a user only when the user has a case role and their
institution is a live party to it; anything else is answered as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists

from app.auth.models import CASE_ROLES, User
from app.cases.models import Case, CaseParty


def may_work_on_cases(user: User) -> bool:
    """Case roles read and add to their institution's cases; supervisors and admins don't."""
    return user.active and user.role in CASE_ROLES


def may_file_complaint(user: User) -> bool:
    return may_work_on_cases(user) and user.role == "pnc_agent"


def may_read_audit(user: User) -> bool:
    return user.active and user.role == "supervisor"


def may_manage_users(user: User) -> bool:
    return user.active and user.role == "admin"


def party_clause(institution_id: int) -> Any:
    """SQL: the case has a live party row for this institution."""
    return exists().where(
        and_(
            CaseParty.case_id == Case.id,
            CaseParty.institution_id == institution_id,
            CaseParty.ended_at.is_(None),
        )
    )


def visible_cases_clause(user: User) -> Any:
    """The filter every case query carries; false for roles that never see cases."""
    if not may_work_on_cases(user):
        return Case.id.is_(None)  # matches nothing
    return party_clause(user.institution_id)
