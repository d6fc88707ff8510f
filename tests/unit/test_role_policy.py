"""The access policy as pure functions: every role, active and disabled."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app import models as _all_models  # noqa: F401  (every mapper known, as create_app does)
from app.auth import policy
from app.auth.models import ROLES, User
from app.cases import access
from app.cases.models import CaseParty
from app.core.time import local_today, utcnow
from app.extensions import db
from tests.factories import intake

# role -> (work on cases, file a complaint, change measures, read the audit log, manage users)
EXPECTED = {
    "pnc_agent": (True, True, True, False, False),
    "health_staff": (True, False, False, False, False),
    "womens_office": (True, False, False, False, False),
    "prosecutor_staff": (True, True, True, False, False),
    "court_staff": (True, False, True, False, False),
    "legal_aid_staff": (True, False, False, False, False),
    "shelter_staff": (True, False, False, False, False),
    "supervisor": (False, False, False, True, False),
    "admin": (False, False, False, False, True),
}
CHECKS = (
    policy.may_work_on_cases,
    policy.may_file_complaint,
    policy.may_update_measures,
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
def test_the_loaders_clause_matches_nothing_unless_a_live_case_role(role, active):
    sql = _sql(access._visible(_user(role, active=active, institution_id=42)))
    if active and EXPECTED[role][0]:
        assert "case_parties.institution_id = 42" in sql
    else:
        assert sql == "cases.id IS NULL"


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_the_loaders_clause_wants_a_live_party_row_of_that_institution(dialect):
    sql = _sql(access._visible(_user("pnc_agent", active=True, institution_id=42)), dialect)
    assert "EXISTS" in sql
    assert "case_parties.case_id = cases.id" in sql
    assert "case_parties.institution_id = 42" in sql
    assert "case_parties.ended_at IS NULL" in sql


def test_the_work_list_against_rows(app, client, make_person):
    """The same rules against rows: party, other institution, and a party that left."""
    pnc = make_person("pnc_agent", "PNC-SON")
    opened = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert opened.status_code == 201
    with app.app_context():

        def visible(username: str) -> list[str]:
            user = db.session.execute(select(User).where(User.username == username)).scalar_one()
            rows, _counts = access.work_list(
                db.session,
                user,
                access.WorkFilter(),
                today=local_today(),
                now=utcnow(),
                offset=0,
                limit=50,
            )
            return [str(case.id) for case in rows]

        stranger = make_person("pnc_agent", "PNC-ACA")
        supervisor = make_person("supervisor", "PNC-SON")
        assert visible(pnc.username) == [opened.get_json()["id"]]
        assert visible(stranger.username) == []
        assert visible(supervisor.username) == [], "a supervisor at a party sees no case rows"
        db.session.execute(update(CaseParty).values(ended_at=utcnow()))
        db.session.commit()
        assert visible(pnc.username) == []
