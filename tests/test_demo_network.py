"""The demo network of two departments (issue 13): Sonsonate and Santa Ana can both be
tried, and a case is numbered by the department of the institution that opens it."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import ROLES, User
from app.auth.service import issue_token
from app.cli.demo import DEMO_USERS
from app.extensions import db
from tests.factories import intake

API = "/api/v1"


def token_of(app, username: str) -> dict[str, str]:
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_demo_has_both_departments_and_every_role(app):
    loaded = app.test_cli_runner().invoke(args=["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    assert {role for _u, _i, role, _d in DEMO_USERS} == set(ROLES)
    assert {"agente.sta", "mujer.sta", "supervisora.sta"} <= {u for u, *_ in DEMO_USERS}


def test_a_case_opened_in_santa_ana_is_numbered_sta_and_in_sonsonate_son(app, client):
    assert app.test_cli_runner().invoke(args=["demo", "load"]).exit_code == 0
    santa_ana = client.post(f"{API}/cases", json=intake(), headers=token_of(app, "agente.sta"))
    assert santa_ana.status_code == 201, santa_ana.get_json()
    assert santa_ana.get_json()["number"].startswith("STA-")
    other = intake({"given_names": "Rosa Elena", "dui": "04567891-1"})
    sonsonate = client.post(f"{API}/cases", json=other, headers=token_of(app, "agente.pnc"))
    assert sonsonate.status_code == 201, sonsonate.get_json()
    assert sonsonate.get_json()["number"].startswith("SON-")
