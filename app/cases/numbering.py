"""Case numbers `SON-2026-000123`: department, year, sequence without gaps or repeats.

The department is the one of the district of the institution that opens the case
(DOMAIN.md); `RUTA_DEPARTMENT` is the default for an institution whose department the
map does not know (a one-department install before `catalogue load`)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.auth.caller import Caller
from app.cases.models import CaseNumberCounter
from app.core.db import DbSession
from app.directory.territory import case_prefix_of


def format_case_number(department: str, year: int, sequence: int) -> str:
    return f"{department}-{year}-{sequence:06d}"


def opening_department(session: DbSession, caller: Caller, default: str) -> str:
    """The prefix of the caller's institution's department, else the configured one."""
    return case_prefix_of(session, caller.institution_id) or default


def next_case_number(session: DbSession, department: str, year: int) -> str:
    """Increment the counter row in place: the row lock serialises concurrent intakes."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(CaseNumberCounter)
        .values(department=department, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["department", "year"])
    )
    sequence = session.execute(
        update(CaseNumberCounter)
        .where(CaseNumberCounter.department == department, CaseNumberCounter.year == year)
        .values(last=CaseNumberCounter.last + 1)
        .returning(CaseNumberCounter.last)
    ).scalar_one()
    return format_case_number(department, year, sequence)
