"""The caseload: one responsible worker per case in each party institution; taking,
reassigning and moving cases; the lead; and the task list of a caseworker's day."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases import caseload
from app.cases.care_models import FollowUp, RiskAssessment
from app.cases.caseload import TASK_ORDER
from app.cases.models import Case, Incident
from app.cases.record_models import CaseAssignment
from app.core.time import local_today, utcnow
from app.directory.models import Institution
from app.extensions import db
from app.referrals.tasks import task_list
from tests.auth_helpers import csrf_token, start_web_session
from tests.conftest import Person
from tests.factories import intake

# ---- helpers ---------------------------------------------------------------------------


def open_case(client: FlaskClient, person: Person, name: str = "Ana", **consent: Any) -> str:
    body = intake(
        survivor_overrides={"dui": ..., "given_names": name},
        consent=consent or None,
    )
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def assign(client: FlaskClient, person: Person, case_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/assignment", json=body, headers=person.headers)


def responsible(client: FlaskClient, person: Person, case_id: str) -> Any:
    response = client.get(f"/api/v1/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["responsible"]


def mine(client: FlaskClient, person: Person) -> list[str]:
    response = client.get("/api/v1/cases", query_string={"assigned": "me"}, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def set_user(app: Flask, person: Person, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == person.id).values(**values))
        db.session.commit()


def holder_of(app: Flask, case_id: str, institution: str) -> int | None:
    with app.app_context():
        stmt = (
            select(CaseAssignment.user_id)
            .join(Institution, Institution.id == CaseAssignment.institution_id)
            .where(CaseAssignment.case_id == uuid.UUID(case_id), Institution.code == institution)
        )
        return db.session.execute(stmt).scalar_one()


def unassign_in_db(app: Flask, case_id: str) -> None:
    with app.app_context():
        db.session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id == uuid.UUID(case_id))
            .values(user_id=None)
        )
        db.session.commit()


def assign_events(app: Flask) -> list[str]:
    with app.app_context():
        stmt = select(AuditEvent.detail).where(AuditEvent.action == "case_assign")
        return list(db.session.execute(stmt.order_by(AuditEvent.id)).scalars())


def notices(client: FlaskClient, person: Person) -> list[tuple[str, str | None]]:
    response = client.get("/api/v1/notifications", headers=person.headers)
    return [(n["kind"], n["reference"]) for n in response.get_json()["items"]]


def institution_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.execute(select(Institution.id).where(Institution.code == code)).scalar()


@pytest.fixture
def colleague(make_person) -> Person:
    return make_person("pnc_agent", "PNC-SON", "agente.colega")


@pytest.fixture
def lead(app, make_person) -> Person:
    person = make_person("pnc_agent", "PNC-SON", "agente.coordinadora")
    set_user(app, person, lead=True)
    return person


# ---- the first responsible -------------------------------------------------------------


def test_the_opener_is_responsible_in_her_institution(app, client, pnc):
    case_id = open_case(client, pnc)
    assert responsible(client, pnc, case_id) == {"id": pnc.id, "name": pnc.username, "active": True}
    assert holder_of(app, case_id, "PNC-SON") == pnc.id


def test_a_joining_institution_gets_the_joiner_and_sees_only_its_own(app, client, pnc, health):
    case_id = open_case(client, pnc)
    assert open_case(client, health) == case_id  # the same survivor: health joins
    assert responsible(client, health, case_id)["id"] == health.id
    assert responsible(client, pnc, case_id)["id"] == pnc.id  # hers is untouched
    assert holder_of(app, case_id, "US-SON") == health.id


def test_accepting_a_referral_makes_the_receiver_responsible(app, client, pnc, make_person):
    hospital = make_person("health_staff", "HOSP-SON", "medica.hospital")
    case_id = open_case(client, pnc)
    sent = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={
            "to_institution": institution_id(app, "HOSP-SON"),
            "service": "medical",
            "urgency": "immediate",
            "consent": True,
        },
        headers=pnc.headers,
    )
    assert sent.status_code == 201, sent.get_json()
    accepted = client.post(
        f"/api/v1/referrals/{sent.get_json()['id']}/transition",
        json={"action": "accept"},
        headers=hospital.headers,
    )
    assert accepted.status_code == 200, accepted.get_json()
    assert holder_of(app, case_id, "HOSP-SON") == hospital.id
    assert mine(client, hospital) == [case_id]


# ---- taking and reassigning ------------------------------------------------------------


def test_a_worker_cannot_take_a_case_a_colleague_holds(app, client, pnc, colleague):
    case_id = open_case(client, pnc)
    response = assign(client, colleague, case_id, action="take")
    assert response.status_code == 409
    assert response.get_json()["error"] == "already_assigned"
    assert holder_of(app, case_id, "PNC-SON") == pnc.id
    assert assign_events(app) == []


def test_a_worker_takes_an_unassigned_case(app, client, pnc, colleague):
    case_id = open_case(client, pnc)
    unassign_in_db(app, case_id)
    response = assign(client, colleague, case_id, action="take")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assigned_to"]["id"] == colleague.id
    assert response.get_json()["changed"] is True
    assert mine(client, colleague) == [case_id]
    assert assign_events(app) == [f"take:{colleague.id};from=none"]
    # She did it herself: nobody to tell.
    assert all(kind != "case_assigned" for kind, _ in notices(client, colleague))


def test_a_worker_takes_the_case_of_a_colleague_who_left(app, client, pnc, colleague):
    case_id = open_case(client, pnc)
    set_user(app, pnc, active=False)  # disabled: she keeps the case until someone acts
    assert holder_of(app, case_id, "PNC-SON") == pnc.id
    response = assign(client, colleague, case_id, action="take")
    assert response.status_code == 200, response.get_json()
    assert assign_events(app) == [f"take:{colleague.id};from={pnc.id}"]


def test_taking_her_own_case_again_changes_nothing(app, client, pnc):
    case_id = open_case(client, pnc)
    response = assign(client, pnc, case_id, action="take")
    assert response.status_code == 200
    assert response.get_json()["changed"] is False
    assert assign_events(app) == []


def test_a_plain_worker_cannot_reassign(app, client, pnc, colleague):
    case_id = open_case(client, pnc)
    theirs = assign(client, colleague, case_id, action="assign", user_id=colleague.id)
    assert theirs.status_code == 403
    own = assign(client, pnc, case_id, action="assign", user_id=colleague.id)
    assert own.status_code == 403
    assert assign(client, pnc, case_id, action="assign", user_id=None).status_code == 403
    assert holder_of(app, case_id, "PNC-SON") == pnc.id


def test_a_lead_reassigns_and_the_new_responsible_is_told(app, client, pnc, colleague, lead):
    case_id = open_case(client, pnc)
    response = assign(client, lead, case_id, action="assign", user_id=colleague.id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assigned_to"] == {
        "id": colleague.id,
        "name": colleague.username,
        "active": True,
    }
    assert mine(client, pnc) == []  # no longer hers
    assert mine(client, colleague) == [case_id]
    assert assign_events(app) == [f"assign:{colleague.id};from={pnc.id}"]
    number = client.get(f"/api/v1/cases/{case_id}", headers=lead.headers).get_json()["number"]
    assert ("case_assigned", number) in notices(client, colleague)
    assert all(kind != "case_assigned" for kind, _ in notices(client, pnc))


def test_a_lead_leaves_a_case_without_a_responsible(app, client, pnc, lead):
    case_id = open_case(client, pnc)
    response = assign(client, lead, case_id, action="assign", user_id=None)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assigned_to"] is None
    assert responsible(client, pnc, case_id) is None
    assert assign_events(app) == [f"assign:none;from={pnc.id}"]


def test_the_new_responsible_must_be_an_active_worker_of_the_institution(
    app, client, pnc, lead, make_person
):
    case_id = open_case(client, pnc)
    elsewhere = make_person("pnc_agent", "PNC-ACA", "agente.acajutla")
    supervisor = make_person("supervisor", "PNC-SON", "supervisora.pnc")
    gone = make_person("pnc_agent", "PNC-SON", "agente.retirada")
    set_user(app, gone, active=False)
    waiting = make_person("pnc_agent", "PNC-SON", "agente.nueva")
    set_user(app, waiting, approved_at=None)
    for target in (elsewhere.id, supervisor.id, gone.id, waiting.id, 999_999):
        response = assign(client, lead, case_id, action="assign", user_id=target)
        assert response.status_code == 422, target
        assert set(response.get_json()["fields"]) == {"user_id"}
    assert holder_of(app, case_id, "PNC-SON") == pnc.id


def test_another_institution_never_learns_of_the_case(app, client, pnc, make_person):
    case_id = open_case(client, pnc)
    stranger = make_person("pnc_agent", "PNC-ACA", "agente.otra")
    set_user(app, stranger, lead=True)
    assert assign(client, stranger, case_id, action="take").status_code == 404
    assert assign(client, stranger, case_id, action="assign", user_id=None).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"action": "keep"}, {"action": "assign"}, {"action": "take", "user_id": 5}],
)
def test_bad_assignment_bodies_are_422(client, pnc, body):
    case_id = open_case(client, pnc)
    assert assign(client, pnc, case_id, **body).status_code == 422


def test_a_lead_who_loses_the_flag_loses_the_right_at_once(app, client, pnc, colleague, lead):
    case_id = open_case(client, pnc)
    assert assign(client, lead, case_id, action="assign", user_id=colleague.id).status_code == 200
    set_user(app, lead, lead=False)  # the same token, the next request
    assert assign(client, lead, case_id, action="assign", user_id=pnc.id).status_code == 403
    set_user(app, lead, lead=True, active=False)  # a disabled lead is no lead
    assert assign(client, lead, case_id, action="assign", user_id=pnc.id).status_code == 401


def test_the_administrator_sets_and_removes_the_lead_flag_audited(app, client, pnc, admin):
    page_client = app.test_client()
    start_web_session(app, page_client, admin.username)
    token = csrf_token(page_client.get("/admin/users").get_data(as_text=True))
    path = f"/admin/users/{pnc.id}"
    made = page_client.post(path, data={"action": "make_lead", "csrf_token": token})
    assert made.status_code == 302
    with app.app_context():
        assert db.session.get(User, pnc.id).lead is True
    assert "Quitar coordinación" in page_client.get("/admin/users").get_data(as_text=True)
    removed = page_client.post(path, data={"action": "remove_lead", "csrf_token": token})
    assert removed.status_code == 302
    with app.app_context():
        assert db.session.get(User, pnc.id).lead is False
        details = db.session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "user_update")
            .order_by(AuditEvent.id)
        ).scalars()
        assert list(details) == ["make_lead", "remove_lead"]


def test_only_a_case_role_can_be_a_lead_and_a_role_change_ends_it(app, client, pnc, admin):
    from app.auth.service import set_role

    page_client = app.test_client()
    start_web_session(app, page_client, admin.username)
    token = csrf_token(page_client.get("/admin/users").get_data(as_text=True))
    page_client.post(f"/admin/users/{admin.id}", data={"action": "make_lead", "csrf_token": token})
    set_user(app, pnc, lead=True)
    with app.app_context():
        assert db.session.get(User, admin.id).lead is False  # an administrator leads no cases
        user = db.session.get(User, pnc.id)
        set_role(db.session, user, "supervisor")
        db.session.commit()
        assert db.session.get(User, pnc.id).lead is False


# ---- moving a caseload -----------------------------------------------------------------


def test_a_lead_moves_a_leavers_caseload(app, client, pnc, colleague, lead, health):
    cases = [open_case(client, pnc, name) for name in ("Ana", "Berta", "Carla")]
    joined = open_case(client, health, "Ana")  # health's assignment of Ana stays health's
    assert joined == cases[0]
    set_user(app, pnc, active=False)
    body = {"from_user_id": pnc.id, "to_user_id": colleague.id}
    response = client.post("/api/v1/caseload/move", json=body, headers=lead.headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"moved": 3}
    assert sorted(mine(client, colleague)) == sorted(cases)
    assert holder_of(app, cases[0], "US-SON") == health.id
    assert assign_events(app) == [f"move:{colleague.id};from={pnc.id}"] * 3
    assert [n for n in notices(client, colleague) if n[0] == "caseload_moved"] == [
        ("caseload_moved", "3")
    ]


def test_moving_a_caseload_is_for_the_lead_only(app, client, pnc, colleague):
    open_case(client, pnc)
    body = {"from_user_id": pnc.id, "to_user_id": colleague.id}
    response = client.post("/api/v1/caseload/move", json=body, headers=colleague.headers)
    assert response.status_code == 403
    assert mine(client, colleague) == []


def test_a_move_stays_inside_the_institution(app, client, pnc, lead, make_person):
    open_case(client, pnc)
    elsewhere = make_person("pnc_agent", "PNC-ACA", "agente.acajutla")
    for body, field in (
        ({"from_user_id": elsewhere.id, "to_user_id": lead.id}, "from_user_id"),
        ({"from_user_id": pnc.id, "to_user_id": elsewhere.id}, "to_user_id"),
        ({"from_user_id": pnc.id, "to_user_id": pnc.id}, "to_user_id"),
    ):
        response = client.post("/api/v1/caseload/move", json=body, headers=lead.headers)
        assert response.status_code == 422, body
        assert set(response.get_json()["fields"]) == {field}
    assert mine(client, pnc) != []


def test_the_caseload_lists_workers_and_leavers_who_still_hold_cases(app, client, pnc, colleague):
    open_case(client, pnc, "Ana")
    open_case(client, pnc, "Berta")
    set_user(app, pnc, active=False)
    response = client.get("/api/v1/caseload", headers=colleague.headers)
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.get_json()["items"]}
    assert rows[pnc.id]["open_cases"] == 2 and rows[pnc.id]["active"] is False
    assert rows[colleague.id]["open_cases"] == 0 and rows[colleague.id]["active"] is True
    assert response.get_json()["unassigned"] == 0


# ---- the pages -------------------------------------------------------------------------


def page_client_for(app: Flask, person: Person) -> FlaskClient:
    page_client = app.test_client()
    start_web_session(app, page_client, person.username)
    return page_client


def test_the_case_page_shows_the_responsible_and_offers_to_take_it(app, client, pnc, colleague):
    case_id = open_case(client, pnc)
    page_client = page_client_for(app, colleague)
    page = page_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Responsable en su institución" in page and pnc.username in page
    assert "Tomar el caso" not in page and "Reasignar" not in page
    unassign_in_db(app, case_id)
    page = page_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Sin responsable" in page and "Tomar el caso" in page
    taken = page_client.post(
        f"/cases/{case_id}/assignment", data={"action": "take", "csrf_token": csrf_token(page)}
    )
    assert taken.status_code == 302 and taken.headers["Location"].endswith("#responsable")
    assert holder_of(app, case_id, "PNC-SON") == colleague.id
    page = page_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Ahora usted es la responsable de este caso." in page


def test_the_lead_reassigns_from_the_case_page(app, client, pnc, colleague, lead):
    case_id = open_case(client, pnc)
    page_client = page_client_for(app, lead)
    page = page_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Reasignar" in page and f'value="{colleague.id}"' in page
    form = {"action": "assign", "user_id": str(colleague.id), "csrf_token": csrf_token(page)}
    assert page_client.post(f"/cases/{case_id}/assignment", data=form).status_code == 302
    assert holder_of(app, case_id, "PNC-SON") == colleague.id
    form["user_id"] = "not-a-number"
    refused = page_client.post(f"/cases/{case_id}/assignment", data=form)
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith(f"/cases/{case_id}#responsable")
    assert holder_of(app, case_id, "PNC-SON") == colleague.id
    again = page_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<title>Error: " in again and 'class="error-box"' in again
    assert "<title>Error: " not in page_client.get(f"/cases/{case_id}").get_data(as_text=True)


def test_the_move_form_is_on_the_work_list_of_the_lead_only(app, client, pnc, colleague, lead):
    open_case(client, pnc)
    assert "Mover casos" not in page_client_for(app, colleague).get("/cases").get_data(True)
    page_client = page_client_for(app, lead)
    page = page_client.get("/cases").get_data(as_text=True)
    assert "Mover casos" in page
    form = {
        "from_user_id": str(pnc.id),
        "to_user_id": str(colleague.id),
        "csrf_token": csrf_token(page),
    }
    moved = page_client.post("/caseload/move", data=form)
    assert moved.status_code == 302
    assert "Casos movidos: 1." in page_client.get("/cases").get_data(as_text=True)
    form["to_user_id"] = str(pnc.id)
    form["from_user_id"] = str(pnc.id)
    again = page_client.post("/caseload/move", data=form)
    assert again.status_code == 422
    assert "Elija a otra persona." in again.get_data(as_text=True)


# ---- the task list ---------------------------------------------------------------------


def add_follow_up(app: Flask, client: FlaskClient, person: Person, case_id: str, due: Any) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/follow-ups",
        json={"due_on": local_today().isoformat(), "channel": "phone"},
        headers=person.headers,
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        db.session.execute(
            update(FollowUp)
            .where(FollowUp.id == uuid.UUID(response.get_json()["id"]))
            .values(due_on=due)
        )
        db.session.commit()


def set_case(app: Flask, case_id: str, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == uuid.UUID(case_id)).values(**values))
        db.session.commit()


def tasks_of(client: FlaskClient, person: Person) -> list[tuple[str, str, bool]]:
    response = client.get("/api/v1/tasks", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return [(t["kind"], t["case_id"], t["mine"]) for t in response.get_json()["items"]]


def test_the_task_list_has_each_kind_of_task(app, client, pnc, colleague, make_person):
    today = local_today()
    overdue, due_today, expiring, unprotected, protected, rape, answer = (
        open_case(client, pnc, name)
        for name in ("Ana", "Berta", "Carla", "Diana", "Elena", "Fabiola", "Gloria")
    )
    add_follow_up(app, client, pnc, overdue, today - timedelta(days=2))
    add_follow_up(app, client, pnc, due_today, today)
    complaint = client.post(
        f"/api/v1/cases/{expiring}/complaints",
        json={
            "number": "DEN-9",
            "measures": [
                {
                    "measure": "keep_away",
                    "status": "active",
                    "granted": True,
                    "ends_on": (today + timedelta(days=3)).isoformat(),
                }
            ],
        },
        headers=pnc.headers,
    )
    assert complaint.status_code == 201, complaint.get_json()
    for case_id in (unprotected, protected):
        set_case(app, case_id, risk_level="high")
    plan = client.put(
        f"/api/v1/cases/{protected}/safety-plan", json={"plan": "Plan"}, headers=pnc.headers
    )
    assert plan.status_code in (200, 201), plan.get_json()
    with app.app_context():  # assessed two days ago: no reassessment yet for `protected`
        db.session.add(
            RiskAssessment(
                case_id=uuid.UUID(protected),
                institution_id=institution_id(app, "PNC-SON"),
                user_id=pnc.id,
                answers_enc=b"x",
                score=15,
                level="high",
                created_at=utcnow() - timedelta(days=2),
            )
        )
        db.session.commit()
    sexual = {"violence_types": ["sexual"], "penetration": True}
    added = client.post(
        f"/api/v1/cases/{rape}/incidents",
        json={**intake()["incident"], **sexual, "occurred_on": today.isoformat()},
        headers=pnc.headers,
    )
    assert added.status_code == 201, added.get_json()
    hospital = make_person("health_staff", "HOSP-SON", "medica.hospital")
    sent = client.post(
        f"/api/v1/cases/{answer}/referrals",
        json={
            "to_institution": institution_id(app, "HOSP-SON"),
            "service": "medical",
            "urgency": "immediate",
            "consent": True,
        },
        headers=pnc.headers,
    )
    assert sent.status_code == 201
    tasks = tasks_of(client, pnc)
    assert ("follow_up_overdue", overdue, True) in tasks
    assert ("follow_up_today", due_today, True) in tasks
    assert ("measure_expiring", expiring, True) in tasks
    assert ("high_risk_unprotected", unprotected, True) in tasks
    assert ("reassessment_due", unprotected, True) in tasks  # never assessed
    assert ("recent_rape", rape, True) in tasks
    kinds_of = {case_id: {k for k, c, _ in tasks if c == case_id} for _, case_id, _ in tasks}
    assert protected not in kinds_of  # a plan, and assessed two days ago
    assert tasks[0][0] == "recent_rape"  # the most urgent first
    assert ("referral_to_answer", answer, False) in tasks_of(client, hospital)
    assert all(kind == "referral_to_answer" for kind, _, _ in tasks_of(client, hospital))
    # A colleague of the same institution sees the same tasks, none of them hers.
    theirs = tasks_of(client, colleague)
    assert {(k, c) for k, c, _ in theirs} == {(k, c) for k, c, _ in tasks}
    assert not any(m for _, _, m in theirs)


def test_old_rapes_done_follow_ups_and_other_institutions_are_not_tasks(app, client, pnc, health):
    today = local_today()
    rape = open_case(client, pnc, "Ana")
    sexual = {"violence_types": ["sexual"], "penetration": True}
    client.post(
        f"/api/v1/cases/{rape}/incidents",
        json={**intake()["incident"], **sexual},
        headers=pnc.headers,
    )
    with app.app_context():
        db.session.execute(
            update(Incident)
            .where(Incident.case_id == uuid.UUID(rape))
            .values(created_at=utcnow() - timedelta(hours=73))
        )
        db.session.commit()
    theirs = open_case(client, health, "Berta")
    add_follow_up(app, client, health, theirs, today - timedelta(days=1))
    assert tasks_of(client, pnc) == []
    assert ("follow_up_overdue", theirs, True) in tasks_of(client, health)


def _task_statements(app, pnc) -> tuple[list, list[str]]:
    with app.test_request_context():
        from app.auth.caller import Caller

        user = db.session.get(User, pnc.id)
        caller = Caller(user, "127.0.0.1", "api")
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            tasks = task_list(db.session, caller)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    return tasks, statements


def _busy_cases(app, client, pnc, names: tuple[str, ...]) -> None:
    for name in names:
        case_id = open_case(client, pnc, name)
        add_follow_up(app, client, pnc, case_id, local_today())
        set_case(app, case_id, risk_level="high")


def test_the_task_list_takes_one_query_per_kind_of_task_whatever_her_caseload(app, client, pnc):
    _busy_cases(app, client, pnc, ("Ana", "Berta", "Carla"))
    tasks, statements = _task_statements(app, pnc)
    assert len(tasks) == 9  # three follow-ups today, three unprotected, three to reassess
    _busy_cases(app, client, pnc, ("Dora", "Elena", "Fabiola"))
    more_tasks, more_statements = _task_statements(app, pnc)
    assert len(more_tasks) == 18
    assert len(more_statements) == len(statements) <= len(TASK_ORDER), statements


def test_the_dashboard_shows_the_tasks_with_links_to_the_cases(app, client, pnc):
    case_id = open_case(client, pnc)
    add_follow_up(app, client, pnc, case_id, local_today() - timedelta(days=1))
    page = page_client_for(app, pnc).get("/").get_data(as_text=True)
    assert "Tareas de hoy" in page and "Seguimiento vencido" in page
    assert f'href="/cases/{case_id}#seguimiento"' in page
    assert "mío" in page
    assert "María" not in page  # no names in the task list


def test_task_kinds_are_all_labelled_and_ordered():
    from app.web.dashboard import TASK_LABELS

    assert set(TASK_LABELS) == set(caseload.TASK_ORDER)
