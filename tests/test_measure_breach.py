"""The breach fast lane and the expiry notice (issue 13, item 2): a measure marked
breached tells the PNC of her 2024 municipality, the prosecutor parties and the
supervisors once, asks her party workers for a risk assessment within 24 hours, and
counts in the indicators; an active measure's end is told to the parties a week before.

Her district (the factories' default) is Sonsonate, of Sonsonate Centro, whose PNC
units are PNC-SON (the case's party) and PNC-SZC (Sonzacate, not a party); PNC-ACA is
of Sonsonate Oeste, PNC-STA of another department."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.cases.care_models import RiskAssessment
from app.cases.caseload import Task, ordered
from app.cases.legal_models import ProtectionMeasure
from app.cases.measure_notices import notify_expiring_measures
from app.core.time import local_today, utcnow
from app.directory.models import Institution
from app.extensions import db
from app.notifications.models import Notification
from tests.auth_helpers import csrf_token
from tests.conftest import Person
from tests.report_helpers import Seeded, open_cases
from tests.test_referral_inbox import institution_id, move, open_case, refer, web

API = "/api/v1"
ASSESSMENT = {"answers": {str(n): n <= 3 for n in range(1, 25)}}
NEARBY_TEXT = "comuníquese con la institución que lo registró"


@dataclass
class World:
    case_id: str
    number: str
    measure_id: str
    version: int

    @property
    def measure_url(self) -> str:
        return f"{API}/cases/{self.case_id}/measures/{self.measure_id}"


def ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


@pytest.fixture
def fiscal(make_person) -> Person:
    return make_person("prosecutor_staff", "FGR-SON", "fiscal.test")


def add_measure(client, pnc: Person, case_id: str, ends_in_days: int = 60) -> tuple[str, int]:
    measure = {
        "measure": "keep_away",
        "granted": True,
        "status": "active",
        "ends_on": (local_today() + timedelta(days=ends_in_days)).isoformat(),
    }
    filed = ok(
        client.post(
            f"{API}/cases/{case_id}/complaints",
            headers=pnc.headers,
            json={"number": f"DEN-{uuid.uuid4().hex[:6]}", "measures": [measure]},
        ),
        201,
    )
    return filed["measures"][0]["id"], filed["measures"][0]["version"]


def world_of(client, pnc: Person, fiscal: Person, **survivor) -> World:
    """A case of PNC-SON with an active measure; FGR-SON took the prosecution."""
    case_id = open_case(client, pnc, **survivor)
    number = ok(client.get(f"{API}/cases/{case_id}", headers=pnc.headers))["number"]
    to = institution_id(client, pnc, "FGR-SON")
    referral = refer(client, pnc, case_id, to, service="prosecution")
    assert move(client, fiscal, referral, "accept").status_code == 200
    measure_id, version = add_measure(client, pnc, case_id)
    return World(case_id, number, measure_id, version)


@pytest.fixture
def world(client, pnc, fiscal, supervisor) -> World:
    return world_of(client, pnc, fiscal)


def breach(client, person: Person, world: World) -> dict:
    change = {"status": "breached", "version": world.version}
    return ok(client.patch(world.measure_url, headers=person.headers, json=change))


def told(app, number: str, kind_prefix: str = "measure_") -> list[tuple[str, str]]:
    """(institution code, kind) of each institution notification naming the case."""
    with app.app_context():
        stmt = (
            select(Institution.code, Notification.kind)
            .join(Institution, Institution.id == Notification.institution_id)
            .where(Notification.reference == number, Notification.kind.startswith(kind_prefix))
            .order_by(Notification.id)
        )
        return [(code, kind) for code, kind in db.session.execute(stmt).all()]


def supervisors_told(app, number: str) -> list[str]:
    with app.app_context():
        stmt = select(Notification.kind).where(
            Notification.reference == number, Notification.user_id.is_not(None)
        )
        return list(db.session.execute(stmt).scalars())


def tasks_of(client, person: Person, case_id: str) -> list[dict]:
    items = ok(client.get(f"{API}/tasks", headers=person.headers))["items"]
    return [t for t in items if t["case_id"] == case_id and t["kind"] == "breach_reassessment"]


def set_breached_at(app, world: World, hours_ago: int) -> None:
    with app.app_context():
        db.session.execute(
            update(ProtectionMeasure)
            .where(ProtectionMeasure.id == uuid.UUID(world.measure_id))
            .values(breached_at=utcnow() - timedelta(hours=hours_ago))
        )
        db.session.commit()


# ---- who is told ---------------------------------------------------------------------


def test_a_breach_tells_the_police_of_her_municipality_and_the_prosecutor_party(
    app, client, pnc, supervisor, world
):
    shown = breach(client, pnc, world)
    assert shown["status"] == "breached" and shown["breached_at"]
    assert sorted(told(app, world.number)) == [
        ("FGR-SON", "measure_breached"),
        ("PNC-SON", "measure_breached"),
        ("PNC-SZC", "measure_breached_nearby"),
    ]
    assert supervisors_told(app, world.number) == ["measure_breached"]
    with app.app_context():
        measure = db.session.get(ProtectionMeasure, uuid.UUID(world.measure_id))
        assert measure is not None and measure.breached_by == pnc.id
        details = db.session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.object_id == world.measure_id)
            .order_by(AuditEvent.id)
        ).scalars()
        assert list(details)[-1] == "measure:breached"


def test_another_municipality_or_department_and_a_non_party_prosecutor_are_not_told(
    app, client, pnc, make_person, world
):
    breach(client, pnc, world)
    codes = {code for code, _ in told(app, world.number)}
    assert "PNC-ACA" not in codes and "PNC-STA" not in codes
    assert "FGR-STA" not in codes


def test_the_police_unit_told_is_asked_to_call_and_gets_no_access(
    app, client, pnc, make_person, world
):
    breach(client, pnc, world)
    sonzacate = make_person("pnc_agent", "PNC-SZC")
    assert client.get(f"{API}/cases/{world.case_id}", headers=sonzacate.headers).status_code == 404
    page = web(app, sonzacate).get("/").get_data(as_text=True)
    assert NEARBY_TEXT in page and world.number in page
    assert "María" not in page
    party_page = web(app, pnc).get("/").get_data(as_text=True)
    assert world.number in party_page
    assert NEARBY_TEXT not in party_page


def test_her_department_is_told_when_her_municipality_has_no_police_unit(
    app, client, pnc, fiscal, supervisor
):
    # Izalco is of Sonsonate Este, which has no PNC family unit in the directory.
    world = world_of(client, pnc, fiscal, municipality="Izalco")
    breach(client, pnc, world)
    police = sorted(code for code, _ in told(app, world.number) if code.startswith("PNC"))
    assert police == ["PNC-ACA", "PNC-SON", "PNC-SZC"]


def test_marking_it_breached_twice_tells_once(app, client, pnc, world):
    first = breach(client, pnc, world)
    world.version = first["version"]
    second = breach(client, pnc, world)
    assert second["breached_at"] == first["breached_at"]
    assert len(told(app, world.number)) == 3
    assert supervisors_told(app, world.number) == ["measure_breached"]


def test_a_role_that_may_not_update_measures_gets_403_and_a_non_party_404(
    app, client, pnc, womens, make_person, world
):
    change = {"status": "breached", "version": world.version}
    assert client.patch(world.measure_url, headers=womens.headers, json=change).status_code == 403
    acajutla = make_person("pnc_agent", "PNC-ACA")
    assert client.patch(world.measure_url, headers=acajutla.headers, json=change).status_code == 404
    assert told(app, world.number) == []


def test_the_measure_form_of_a_non_party_answers_404_and_tells_nobody(
    app, client, make_person, world
):
    acajutla = make_person("pnc_agent", "PNC-ACA")
    browser = web(app, acajutla)
    form = {
        "status": "breached",
        "version": str(world.version),
        "csrf_token": csrf_token(browser.get("/").get_data(as_text=True)),
    }
    sent = browser.post(f"/cases/{world.case_id}/measures/{world.measure_id}", data=form)
    assert sent.status_code == 404
    assert told(app, world.number) == []


def test_the_breach_task_comes_before_the_30_day_reassessment():
    case_id = uuid.uuid4()
    later = Task("reassessment_due", case_id, "SON-2026-000001", None, True)
    first = Task("breach_reassessment", case_id, "SON-2026-000001", utcnow(), False)
    assert ordered([later, first]) == [first, later]


# ---- the reassessment task -----------------------------------------------------------


def test_the_party_workers_get_the_task_overdue_after_24_hours_gone_after_an_assessment(
    app, client, pnc, fiscal, health, make_person, world
):
    breach(client, pnc, world)
    for worker in (pnc, fiscal):
        (task,) = tasks_of(client, worker, world.case_id)
        assert task["overdue"] is False and task["detail"] == "keep_away"
    assert tasks_of(client, health, world.case_id) == []
    assert tasks_of(client, make_person("pnc_agent", "PNC-SZC"), world.case_id) == []
    record = ok(client.get(f"{API}/cases/{world.case_id}", headers=pnc.headers))
    assert record["risk"]["breach_reassessment_by"] is not None
    set_breached_at(app, world, hours_ago=25)
    (late,) = tasks_of(client, pnc, world.case_id)
    assert late["overdue"] is True
    ok(
        client.post(
            f"{API}/cases/{world.case_id}/risk-assessments", headers=fiscal.headers, json=ASSESSMENT
        ),
        201,
    )
    assert tasks_of(client, pnc, world.case_id) == []
    assert tasks_of(client, fiscal, world.case_id) == []
    record = ok(client.get(f"{API}/cases/{world.case_id}", headers=pnc.headers))
    assert record["risk"]["breach_reassessment_by"] is None


def test_an_assessment_made_before_the_breach_does_not_clear_the_task(client, pnc, world):
    ok(
        client.post(
            f"{API}/cases/{world.case_id}/risk-assessments", headers=pnc.headers, json=ASSESSMENT
        ),
        201,
    )
    breach(client, pnc, world)
    assert len(tasks_of(client, pnc, world.case_id)) == 1


# ---- the case page -------------------------------------------------------------------


def test_the_case_page_marks_the_breach_and_links_to_the_risk_form(app, client, fiscal, world):
    page_url = f"/cases/{world.case_id}"
    browser = web(app, fiscal)
    form = {
        "status": "breached",
        "version": str(world.version),
        "csrf_token": csrf_token(browser.get(page_url).get_data(as_text=True)),
    }
    sent = browser.post(f"{page_url}/measures/{world.measure_id}", data=form)
    assert sent.status_code in (302, 303), sent.status_code
    page = browser.get(page_url).get_data(as_text=True)
    assert "Medida incumplida: nueva valoración de riesgo antes de" in page
    assert f'href="{page_url}/risk"' in page
    assert sorted(told(app, world.number))[0] == ("FGR-SON", "measure_breached")
    dashboard = browser.get("/").get_data(as_text=True)
    assert "Medida incumplida: nueva valoración de riesgo antes de 24 horas" in dashboard
    set_breached_at(app, world, hours_ago=30)
    assert "El plazo de 24 horas ya venció." in browser.get(page_url).get_data(as_text=True)


# ---- the expiry notice ---------------------------------------------------------------


def test_the_expiry_notice_goes_to_the_parties_once(app, client, pnc, fiscal, world):
    soon, _ = add_measure(client, pnc, world.case_id, ends_in_days=5)
    add_measure(client, pnc, world.case_id, ends_in_days=10)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["measures", "notify-expiring"])
    assert first.exit_code == 0, first.output
    assert "1 measures" in first.output
    assert sorted(told(app, world.number)) == [
        ("FGR-SON", "measure_expiring"),
        ("PNC-SON", "measure_expiring"),
    ]
    again = runner.invoke(args=["measures", "notify-expiring"])
    assert "0 measures" in again.output
    assert len(told(app, world.number)) == 2
    with app.app_context():  # the week before the other one's end, it is told too
        assert notify_expiring_measures(db.session, local_today() + timedelta(days=3)) == 1
        db.session.commit()
        measure = db.session.get(ProtectionMeasure, uuid.UUID(soon))
        assert measure is not None and measure.expiry_notified_at is not None
    assert len(told(app, world.number)) == 4


# ---- the indicators ------------------------------------------------------------------


def _indicators(client, person: Person) -> dict:
    query = {"from": local_today().replace(day=1).isoformat()}  # this month, as published
    response = client.get("/api/v1/stats/indicators", headers=person.headers, query_string=query)
    return ok(response)["measures_breached"]


def test_breaches_and_their_reassessments_within_24_hours_count(app, client, pnc):
    cases = open_cases(client, pnc, Seeded(), 7, municipality="Sonsonate", types=["physical"])
    measures = []
    for case_id in cases:
        measure_id, version = add_measure(client, pnc, case_id)
        url = f"{API}/cases/{case_id}/measures/{measure_id}"
        ok(client.patch(url, headers=pnc.headers, json={"status": "breached", "version": version}))
        measures.append(measure_id)
    for case_id in cases[:6]:
        ok(
            client.post(
                f"{API}/cases/{case_id}/risk-assessments", headers=pnc.headers, json=ASSESSMENT
            ),
            201,
        )
    with app.app_context():  # the sixth was assessed, but 30 hours after the breach
        breached_at = db.session.get(ProtectionMeasure, uuid.UUID(measures[5])).breached_at
        db.session.execute(
            update(RiskAssessment)
            .where(RiskAssessment.case_id == uuid.UUID(cases[5]))
            .values(created_at=breached_at + timedelta(hours=30))
        )
        db.session.commit()
    assert _indicators(client, pnc) == {
        "breached": 7,
        "reassessed_within_24h": 5,
        "reassessed_share": round(5 / 7, 3),
    }


def test_few_breaches_are_shown_as_under_five(app, client, pnc, supervisor, world):
    breach(client, pnc, world)
    assert _indicators(client, pnc) == {
        "breached": "<5",
        "reassessed_within_24h": 0,
        "reassessed_share": None,
    }
    page = web(app, supervisor).get("/reports").get_data(as_text=True)
    assert "de las medidas incumplidas en el periodo, con nueva valoración de riesgo" in page
