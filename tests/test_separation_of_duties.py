"""Separation of duties: an administrator cannot give herself the cases of a unit.

Case-role accounts made in the administration pages wait for a supervisor's approval
before they sign in; break-glass asks for the password every time; complaint numbers,
court names and break-glass reasons are sealed like the rest of the case.
"""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent, BreakGlass
from app.auth.models import User
from app.auth.service import create_user, find_user
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cli.demo import load_demo_users
from app.crypto.service import get_keyring
from app.extensions import db
from tests.auth_helpers import (
    GENERIC_LOGIN_ERROR,
    api_login,
    csrf_token,
    otp,
    post_form,
    start_web_session,
    web_login,
)
from tests.conftest import PASSWORD
from tests.factories import intake

WAITING = "Su cuenta espera la aprobación de una supervisora"
REASON = "Orden judicial urgente, oficio 77/2026"
COMPLAINT_NUMBER = "DEN-SON-2026-00931"
COURT = "Juzgado Especializado de Instrucción para una Vida Libre de Violencia"


@pytest.fixture
def staff(app, make_person):
    people = SimpleNamespace(
        admin=make_person("admin", "SYS", "admin.sys"),
        sup=make_person("supervisor", "RED-SON", "sup.red"),
        colleague=make_person("supervisor", "RED-SON", "sup.colega"),
        pnc=make_person("pnc_agent", "PNC-SON", "ana.pnc"),
    )
    people.admin_web = app.test_client()
    start_web_session(app, people.admin_web, "admin.sys")
    people.sup_web = app.test_client()
    start_web_session(app, people.sup_web, "sup.red")
    return people


def admin_creates(staff, username: str, role: str = "pnc_agent", institution: str = "PNC-SON"):
    page = post_form(
        staff.admin_web,
        "/admin/users",
        {"username": username, "display_name": username, "institution": institution, "role": role},
    )
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    found = re.search(r'<code class="secret">([^<]+)</code>', html)
    assert found, "the one-time password is shown once"
    return found.group(1)


def user_id(app, username: str) -> int:
    with app.app_context():
        user = find_user(db.session, username)
        assert user is not None
        return user.id


def pending(client, person) -> list[dict]:
    response = client.get("/api/v1/accounts/pending", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def decide(client, person, account_id: int, approve: object):
    return client.post(
        f"/api/v1/accounts/{account_id}/approve", headers=person.headers, json={"approve": approve}
    )


def approval_events(app) -> list[tuple[str | None, str | None, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "user_approve").order_by(AuditEvent.id)
        ).scalars()
        return [(e.username, e.object_id, e.detail) for e in rows]


# ---- accounts wait for a supervisor ---------------------------------------------------------


def test_admin_made_case_role_account_cannot_sign_in_before_approval(app, client, staff):
    one_time = admin_creates(staff, "nueva.pnc")
    listing = staff.admin_web.get("/admin/users").get_data(as_text=True)
    row = next(row for row in listing.split("<tr>") if "<td>nueva.pnc</td>" in row)
    assert "pendiente de aprobación" in row

    page = web_login(client, "nueva.pnc", one_time)
    assert page.status_code == 403
    assert WAITING in page.get_data(as_text=True)
    assert client.get("/").status_code == 302, "no session for a waiting account"

    token = api_login(client, "nueva.pnc", one_time)
    assert token.status_code == 403
    assert token.get_json()["error"] == "awaiting_approval"
    assert "token" not in token.get_json()


def test_a_waiting_account_reveals_nothing_without_its_password(app, client, staff):
    admin_creates(staff, "nueva.pnc")
    wrong = web_login(client, "nueva.pnc", "not the password at all")
    assert wrong.status_code == 401
    assert WAITING not in wrong.get_data(as_text=True)
    assert GENERIC_LOGIN_ERROR in wrong.get_data(as_text=True)
    api_wrong = api_login(client, "nueva.pnc", "not the password at all")
    api_unknown = api_login(client, "nadie.pnc", "not the password at all")
    assert api_wrong.status_code == api_unknown.status_code == 401
    assert api_wrong.get_data() == api_unknown.get_data()


def test_supervisor_approves_on_the_audit_page_and_the_account_signs_in(app, client, staff):
    one_time = admin_creates(staff, "nueva.pnc")
    account = user_id(app, "nueva.pnc")
    page = staff.sup_web.get("/audit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "nueva.pnc" in html
    path = f"/audit/accounts/{account}/approve"
    assert path in html
    without_csrf = staff.sup_web.post(path, data={"approve": "yes"})
    assert without_csrf.status_code == 400
    approved = staff.sup_web.post(path, data={"approve": "yes", "csrf_token": csrf_token(html)})
    assert approved.status_code == 302
    assert "nueva.pnc" not in staff.sup_web.get("/audit").get_data(as_text=True)

    first = web_login(client, "nueva.pnc", one_time)
    assert first.status_code == 302
    assert first.headers["Location"].endswith("/account/password")
    assert approval_events(app) == [("sup.red", str(account), "approved")]
    with app.app_context():
        row = db.session.get_one(User, account)
        assert row.approved_by_user_id == staff.sup.id and row.approved_at is not None


def test_supervisor_refuses_through_the_api_and_the_account_is_disabled(app, client, staff):
    one_time = admin_creates(staff, "nueva.pnc")
    account = user_id(app, "nueva.pnc")
    items = pending(client, staff.sup)
    assert [(i["id"], i["username"], i["role"], i["institution"]) for i in items] == [
        (account, "nueva.pnc", "pnc_agent", "PNC-SON")
    ]
    assert items[0]["requested_by"] == "admin.sys"

    refused = decide(client, staff.sup, account, False)
    assert refused.status_code == 200, refused.get_json()
    assert refused.get_json()["active"] is False
    assert pending(client, staff.sup) == []
    assert api_login(client, "nueva.pnc", one_time).status_code == 401
    assert approval_events(app) == [("sup.red", str(account), "refused")]
    assert decide(client, staff.colleague, account, True).status_code == 409


def test_an_account_is_approved_once_and_only_when_it_waits(app, client, staff):
    admin_creates(staff, "nueva.pnc")
    account = user_id(app, "nueva.pnc")
    assert decide(client, staff.sup, account, True).status_code == 200
    assert decide(client, staff.colleague, account, True).status_code == 409
    assert decide(client, staff.sup, staff.pnc.id, True).status_code == 409  # made by the CLI
    assert decide(client, staff.sup, 999_999, True).status_code == 404
    assert approval_events(app) == [("sup.red", str(account), "approved")]


@pytest.mark.parametrize("body", [{}, {"approve": "maybe"}, {"approve": None}])
def test_approval_needs_a_yes_or_no(app, client, staff, body):
    admin_creates(staff, "nueva.pnc")
    account = user_id(app, "nueva.pnc")
    response = client.post(
        f"/api/v1/accounts/{account}/approve", headers=staff.sup.headers, json=body
    )
    assert response.status_code == 422
    assert "approve" in response.get_json()["fields"]
    assert approval_events(app) == []


def test_only_supervisors_see_and_decide_waiting_accounts(app, client, staff):
    admin_creates(staff, "nueva.pnc")
    account = user_id(app, "nueva.pnc")
    for person in (staff.admin, staff.pnc):
        assert client.get("/api/v1/accounts/pending", headers=person.headers).status_code == 403
        assert decide(client, person, account, True).status_code == 403
    html = staff.admin_web.get("/admin/users").get_data(as_text=True)
    refused = staff.admin_web.post(
        f"/audit/accounts/{account}/approve",
        data={"approve": "yes", "csrf_token": csrf_token(html)},
    )
    assert refused.status_code == 403
    assert approval_events(app) == []
    assert [i["id"] for i in pending(client, staff.sup)] == [account]


def test_a_supervisor_cannot_approve_an_account_she_asked_for(app, client, staff):
    with app.app_context():
        asked_by = db.session.get_one(User, staff.sup.id)
        made = create_user(
            db.session,
            get_keyring(),
            username="pedida.pnc",
            institution_code="PNC-SON",
            role="pnc_agent",
            requested_by=asked_by,
        )
        db.session.commit()
        account = made.user.id
    assert decide(client, staff.sup, account, True).status_code == 403
    assert decide(client, staff.colleague, account, True).status_code == 200


def test_giving_a_case_role_in_the_admin_page_needs_approval_again(app, client, staff, make_person):
    lead = make_person("supervisor", "PNC-SON", "jefa.pnc")
    form = {"action": "role", "role": "pnc_agent"}
    html = staff.admin_web.get("/admin/users").get_data(as_text=True)
    changed = staff.admin_web.post(
        f"/admin/users/{lead.id}", data={**form, "csrf_token": csrf_token(html)}
    )
    assert changed.status_code == 302
    assert client.get("/api/v1/institutions", headers=lead.headers).status_code == 401
    code = otp(lead.totp_secret)
    wrong_code = "000000" if code != "000000" else "111111"
    assert api_login(client, "jefa.pnc", PASSWORD, wrong_code).status_code == 401  # says nothing
    assert api_login(client, "jefa.pnc", PASSWORD, code).status_code == 403
    assert [i["username"] for i in pending(client, staff.sup)] == ["jefa.pnc"]
    assert decide(client, staff.sup, lead.id, True).status_code == 200
    assert api_login(client, "jefa.pnc", PASSWORD, otp(lead.totp_secret, 1)).status_code == 200


def test_admin_made_supervisor_waits_and_operator_made_accounts_are_ready_at_once(
    app, client, staff
):
    # A supervisor the administrator made could approve her own case-role account.
    one_time = admin_creates(staff, "nueva.sup", role="supervisor", institution="RED-SON")
    assert web_login(client, "nueva.sup", one_time).status_code != 302
    assert [a["username"] for a in pending(client, staff.sup)] == ["nueva.sup"]
    with app.app_context():
        load_demo_users(db.session, get_keyring(), PASSWORD, with_totp=False)
        db.session.commit()
        waiting = db.session.execute(select(User).where(User.approved_at.is_(None))).scalars()
        assert [u.username for u in waiting] == ["nueva.sup"]  # the demo users are ready
    assert api_login(client, "ana.pnc", PASSWORD, otp(staff.pnc.totp_secret)).status_code == 200


# ---- break-glass asks for the password every time --------------------------------------------


@pytest.fixture
def case_id(client, staff) -> str:
    opened = client.post("/api/v1/cases", json=intake(), headers=staff.pnc.headers)
    assert opened.status_code == 201
    return opened.get_json()["id"]


def _grants(app) -> int:
    with app.app_context():
        return len(db.session.execute(select(BreakGlass.id)).all())


@pytest.mark.parametrize("password", [..., None, ""])
def test_break_glass_needs_the_password_even_on_a_fresh_token(
    app, client, staff, case_id, password
):
    body = {"reason": REASON, "password": password}
    body = {key: value for key, value in body.items() if value is not ...}
    response = client.post(
        f"/api/v1/cases/{case_id}/break-glass", headers=staff.sup.headers, json=body
    )
    assert response.status_code == 422
    assert "password" in response.get_json()["fields"]
    assert _grants(app) == 0


def test_web_break_glass_without_the_password_is_refused(app, staff, case_id):
    page = staff.sup_web.get(f"/cases/{case_id}")
    assert page.status_code == 200
    response = staff.sup_web.post(
        f"/cases/{case_id}/break-glass",
        data={"reason": REASON, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert response.status_code == 303
    assert _grants(app) == 0
    again = staff.sup_web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<title>Error: " in again


# ---- complaint numbers, courts and reasons are sealed ----------------------------------------


def _file_complaint(client, staff, case_id: str) -> dict:
    response = client.post(
        f"/api/v1/cases/{case_id}/complaints",
        headers=staff.pnc.headers,
        json={
            "number": COMPLAINT_NUMBER,
            "measures": [{"measure": "keep_away", "granted": True, "court": COURT}],
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_complaint_number_and_court_are_sealed_and_read_back(app, client, staff, case_id):
    filed = _file_complaint(client, staff, case_id)
    assert filed["number"] == COMPLAINT_NUMBER
    assert filed["measures"][0]["court"] == COURT
    with app.app_context():
        complaint = db.session.get_one(Complaint, uuid.UUID(filed["id"]))
        measure = db.session.get_one(ProtectionMeasure, uuid.UUID(filed["measures"][0]["id"]))
        assert COMPLAINT_NUMBER.encode() not in complaint.number_enc
        assert measure.court_enc and COURT.encode() not in measure.court_enc
    record = client.get(f"/api/v1/cases/{case_id}", headers=staff.pnc.headers).get_json()
    assert record["complaints"][0]["number"] == COMPLAINT_NUMBER
    assert record["complaints"][0]["measures"][0]["court"] == COURT
    complaint_items = [item for item in record["timeline"] if item["kind"] == "complaint"]
    assert [item["detail"] for item in complaint_items] == ["received"]
    assert COMPLAINT_NUMBER not in str(record["timeline"])


def test_a_new_court_on_a_measure_is_sealed_too(app, client, staff, case_id):
    filed = _file_complaint(client, staff, case_id)
    measure_id = filed["measures"][0]["id"]
    changed = client.patch(
        f"/api/v1/cases/{case_id}/measures/{measure_id}",
        headers=staff.pnc.headers,
        json={"court": "Juzgado de Paz de Acajutla"},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["court"] == "Juzgado de Paz de Acajutla"
    with app.app_context():
        measure = db.session.get_one(ProtectionMeasure, uuid.UUID(measure_id))
        assert b"Acajutla" not in measure.court_enc
    page = client.get(f"/api/v1/cases/{case_id}", headers=staff.pnc.headers).get_json()
    assert page["complaints"][0]["measures"][0]["court"] == "Juzgado de Paz de Acajutla"


def test_break_glass_reason_is_sealed_and_only_supervisors_read_it(app, client, staff, case_id):
    opened = client.post(
        f"/api/v1/cases/{case_id}/break-glass",
        headers=staff.sup.headers,
        json={"reason": REASON, "password": PASSWORD},
    )
    assert opened.status_code == 201, opened.get_json()
    grant_id = opened.get_json()["id"]
    assert opened.get_json()["reason"] == REASON
    with app.app_context():
        grant = db.session.get_one(BreakGlass, grant_id)
        assert grant.reason_enc and REASON.encode() not in grant.reason_enc
        events = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "break_glass")
        ).scalars()
        flagged = [(e.reason, e.object_id, e.case_id) for e in events]
    assert flagged == [(None, str(grant_id), uuid.UUID(case_id))]
    queue = client.get("/api/v1/break-glass", headers=staff.colleague.headers).get_json()
    assert [(i["id"], i["reason"]) for i in queue["items"]] == [(grant_id, REASON)]
    reports = client.get("/api/v1/audit/reports", headers=staff.colleague.headers).get_json()
    assert [g["reason"] for g in reports["break_glass"]] == [REASON]
    assert REASON in staff.sup_web.get("/audit").get_data(as_text=True)
