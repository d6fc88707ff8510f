"""Who a row of the supervisors' pages is about, by name, and who else may review."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.auth.models import User
from app.auth.policy import may_read_audit
from app.core.db import DbSession
from app.core.errors import Forbidden
from app.directory.models import Institution


@dataclass(frozen=True)
class Person:
    """Who a row is about, as a supervisor recognises her: name, username, institution."""

    id: int
    username: str
    display_name: str
    institution: str
    institution_code: str

    @property
    def label(self) -> str:
        name = self.display_name.strip()
        return f"{name} ({self.username})" if name else self.username


def people(session: DbSession, user_ids: set[int | None]) -> dict[int, Person]:
    """Users by id with their names and institution's name, in one query."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    stmt = (
        select(User.id, User.username, User.display_name, Institution.name, Institution.code)
        .join(Institution, Institution.id == User.institution_id)
        .where(User.id.in_(wanted))
    )
    return {row[0]: Person(*row) for row in session.execute(stmt).all()}


def institution_names(session: DbSession, codes: set[str | None]) -> dict[str, str]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    stmt = select(Institution.code, Institution.name).where(Institution.code.in_(wanted))
    return {code: name for code, name in session.execute(stmt).all()}


def fellow_supervisors(session: DbSession, user: User) -> list[Person]:
    """Every other supervisor who may act today (active, approved), by name. The network
    has one pool of supervisors: whoever is not party to an item may review it."""
    if not may_read_audit(user):
        raise Forbidden("only supervisors see who may review")
    stmt = (
        select(User.id)
        .where(
            User.role == "supervisor",
            User.active.is_(True),
            User.approved_at.is_not(None),
            User.id != user.id,
        )
        .order_by(User.display_name, User.username)
    )
    ids = list(session.execute(stmt).scalars())
    found = people(session, set(ids))
    return [found[i] for i in ids]
