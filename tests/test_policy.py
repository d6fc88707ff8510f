"""The access policy as pure functions: every role, active and disabled."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app import models as _all_models  # noqa: F401  (every mapper known, as create_app does)
from app.auth import policy
from app.auth.models import ROLES, User
from app.cases.models import Case, CaseParty
from app.common import utcnow
from app.extensions import db
from tests.factories import intake

# role -> (work on cases, file a complaint, read the audit log, manage users)
EXPECTED = {
    "pnc_agent": (True, True, False, False),
    "health_staff": (True, False, False, False),
    "womens_office": (True, False, False, False),
    "supervisor": (False, False, True, False),
    "admin": (False, False, False, True),
}
CHECKS = (
    policy.may_work_on_cases,
    policy.may_file_complaint,
    policy.may_read_audit,
    policy.may_manage_users,
)


def _user(role: str, active: bool = True, institution_id: int = 7) -> User:
    return User(username=f"{role}.test", role=role, active=active, institution_id=institution_id)


def test_every_role_has_an_expectation():
    assert set(EXPECTED) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_active_user_may_do_what_her_role_allows(role):
    user = _user(role)
    assert tuple(check(user) for check in CHECKS) == EXPECTED[role]


@pytest.mark.parametrize("role", ROLES)
def test_disabled_user_may_do_nothing(role):
    user = _user(role, active=False)
    assert [check(user) for check in CHECKS] == [False] * len(CHECKS)


@pytest.mark.parametrize("role", ["", "root", "SUPERVISOR", "pnc_agent ", None])
def test_unknown_role_may_do_nothing(role):
    user = _user("x")
    user.role = role
    assert [check(user) for check in CHECKS] == [False] * len(CHECKS)


def _sql(clause, dialect=None) -> str:
    return str(
        clause.compile(dialect=dialect or sqlite.dialect(), compile_kwargs={"literal_binds": True})
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("active", [True, False])
def test_visible_cases_clause_matches_nothing_unless_a_live_case_role(role, active):
    sql = _sql(policy.visible_cases_clause(_user(role, active=active, institution_id=42)))
    if active and EXPECTED[role][0]:
        assert sql == _sql(policy.party_clause(42))
    else:
        assert sql == "cases.id IS NULL"


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_party_clause_wants_a_live_party_row_of_that_institution(dialect):
    sql = _sql(policy.party_clause(42), dialect)
    assert "EXISTS" in sql
    assert "case_parties.case_id = cases.id" in sql
    assert "case_parties.institution_id = 42" in sql
    assert "case_parties.ended_at IS NULL" in sql


def test_visible_cases_clause_in_a_query(app, client, make_person):
    """The same rules against rows: party, other institution, and a party that left."""
    pnc = make_person("pnc_agent", "PNC-SON")
    opened = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert opened.status_code == 201
    with app.app_context():

        def visible(username: str) -> list[str]:
            user = db.session.execute(select(User).where(User.username == username)).scalar_one()
            stmt = select(Case.id).where(policy.visible_cases_clause(user))
            return [str(case_id) for case_id in db.session.execute(stmt).scalars()]

        stranger = make_person("pnc_agent", "PNC-ACA")
        supervisor = make_person("supervisor", "PNC-SON")
        assert visible(pnc.username) == [opened.get_json()["id"]]
        assert visible(stranger.username) == []
        assert visible(supervisor.username) == [], "a supervisor at a party sees no case rows"
        db.session.execute(update(CaseParty).values(ended_at=utcnow()))
        db.session.commit()
        assert visible(pnc.username) == []
