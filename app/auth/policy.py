"""Role predicates: what each role may do at all, before any record is looked at.

Which record a caller may see, and how much of it, is `app/cases/access.py` (the
loader) with the pure rules of `app/cases/policy.py`.
"""

from __future__ import annotations

from typing import Protocol

from app.auth.models import CASE_ROLES


class Subject(Protocol):
    """A user, or a `Caller` wrapping one: what the role predicates look at."""

    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


def may_work_on_cases(user: Subject) -> bool:
    """Case roles read and add to their institution's cases; supervisors and admins don't."""
    return user.active and user.role in CASE_ROLES


# A complaint (denuncia) is received by the PNC or the prosecutor (FGR); a protection
# measure is also granted, changed or revoked by the court that orders it.
COMPLAINT_ROLES = frozenset({"pnc_agent", "prosecutor_staff"})
MEASURE_ROLES = COMPLAINT_ROLES | {"court_staff"}


def may_file_complaint(user: Subject) -> bool:
    return may_work_on_cases(user) and user.role in COMPLAINT_ROLES


def may_update_measures(user: Subject) -> bool:
    return may_work_on_cases(user) and user.role in MEASURE_ROLES


def may_read_audit(user: Subject) -> bool:
    return user.active and user.role == "supervisor"


def may_manage_users(user: Subject) -> bool:
    return user.active and user.role == "admin"
