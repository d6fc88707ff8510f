"""The catalogues administrators keep (issue 13, item 5): institutions, services,
measure types and the districts' other names, through the pages with CSRF on; what a
case worker is offered and may send right after; the audit; `catalogue load` again."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.audit.models import AuditEvent
from app.directory.models import District, Institution, MeasureType, Service
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import intake

API = "/api/v1"


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    start_web_session(app, client, username)
    return client


def send(
    client: FlaskClient, page: str, data: dict[str, Any], to: str | None = None
) -> TestResponse:
    """Fetch `page` for its CSRF token, then post the form (to `to`, or to the page)."""
    shown = client.get(page)
    assert shown.status_code == 200, (page, shown.status_code)
    token = csrf_token(shown.get_data(as_text=True))
    return client.post(to or page, data={**data, "csrf_token": token})


def institution_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.execute(
            select(Institution.id).where(Institution.code == code)
        ).scalar_one()


def audited(app: Flask, action: str) -> list[str | None]:
    with app.app_context():
        stmt = select(AuditEvent.object_id).where(AuditEvent.action == action)
        return list(db.session.execute(stmt).scalars())


def open_case(client: FlaskClient, person: Any) -> str:
    answer = client.post(f"{API}/cases", json=intake(), headers=person.headers)
    assert answer.status_code == 201
    return answer.get_json()["id"]


def offered(html: str, name: str) -> str:
    """The options of the select `name` on the page."""
    start = html.index(f'name="{name}"')
    return html[start : html.index("</select>", start)]


def give_services(admin_client: FlaskClient, app: Flask, code: str, services: list[str]) -> None:
    page = f"/admin/institutions/{institution_id(app, code)}"
    with app.app_context():
        institution = db.session.execute(
            select(Institution).where(Institution.code == code)
        ).scalar_one()
        form = {"name": institution.name, "hours": institution.hours or "", "active": "y"}
    answer = send(admin_client, page, {**form, "services": services})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def refer_by_api(client, person, case_id, to: int, service: str) -> TestResponse:
    body = {"to_institution": to, "service": service, "reason": "Ella lo pidió", "consent": True}
    return client.post(f"{API}/cases/{case_id}/referrals", json=body, headers=person.headers)


NEW_SERVICE = {
    "code": "acompanamiento_legal",
    "name_es": "Acompañamiento en audiencias",
    "name_en": "Court accompaniment",
}


def test_a_service_an_administrator_adds_is_referred_to_at_once(app, client, admin, pnc):
    case_id = open_case(client, pnc)
    worker = signed_in(app, pnc.username)
    worker.get(f"/cases/{case_id}/forms/remisiones")  # the choice lists are cached now
    boss = signed_in(app, admin.username)
    assert send(boss, "/admin/services", NEW_SERVICE).status_code == 302
    give_services(boss, app, "HOSP-SON", ["medical", "acompanamiento_legal"])

    html = worker.get(f"/cases/{case_id}/forms/remisiones").get_data(as_text=True)
    assert 'value="acompanamiento_legal"' in offered(html, "service")
    hospital = institution_id(app, "HOSP-SON")
    receivers = offered(html, "to_institution")
    at = receivers.index(f'value="{hospital}"')
    option = receivers[receivers.rindex("<option", 0, at) : receivers.index(">", at)]
    assert "acompanamiento_legal" in option
    by_page = send(
        worker,
        f"/cases/{case_id}",
        {
            "to_institution": str(hospital),
            "service": "acompanamiento_legal",
            "urgency": "routine",
            "reason": "Audiencia el lunes",
            "consent": "y",
        },
        to=f"/cases/{case_id}/referrals",
    )
    assert by_page.status_code == 303, by_page.get_data(as_text=True)
    by_api = refer_by_api(client, pnc, case_id, hospital, "acompanamiento_legal")
    assert by_api.status_code == 201, by_api.get_json()
    assert audited(app, "service_create") == ["acompanamiento_legal"]
    assert audited(app, "institution_update") == [str(hospital)]
    sheet = worker.get(by_page.headers["Location"]).get_data(as_text=True)
    assert "Acompañamiento en audiencias" in sheet


VALID_INSTITUTION = {
    "code": "CASA-SON",
    "name": "Casa de Acogida Sonsonate",
    "kind": "shelter",
    "municipality": "sonsonate",
    "address": "Barrio El Centro",
    "phone": "2451-0000",
    "hours": "24 horas",
    "services": ["shelter", "psychological"],
}


def institutions_count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Institution)).scalar_one()


def test_an_administrator_creates_an_institution_that_receives_referrals(app, client, admin, pnc):
    boss = signed_in(app, admin.username)
    answer = send(boss, "/admin/institutions/new", VALID_INSTITUTION)
    assert answer.status_code == 302
    new_id = institution_id(app, "CASA-SON")
    assert audited(app, "institution_create") == [str(new_id)]
    listing = client.get(f"{API}/institutions", headers=pnc.headers).get_json()
    made = next(row for row in _items(listing) if row["code"] == "CASA-SON")
    assert sorted(made["services"]) == ["psychological", "shelter"]
    case_id = open_case(client, pnc)
    assert refer_by_api(client, pnc, case_id, new_id, "shelter").status_code == 201


def _items(listing: Any) -> list[dict[str, Any]]:
    return listing["items"] if isinstance(listing, dict) else listing


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("HOSP-SON", "Ya hay una institución con el código HOSP-SON."),
        ("casa son", "El código lleva mayúsculas, cifras y guiones"),
        ("CASA--SON", "El código lleva mayúsculas, cifras y guiones"),
        ("", "El código lleva mayúsculas, cifras y guiones"),
    ],
)
def test_a_duplicate_or_malformed_institution_code_is_refused_and_nothing_stored(
    app, admin, code, message
):
    boss = signed_in(app, admin.username)
    before = institutions_count(app)
    answer = send(boss, "/admin/institutions/new", {**VALID_INSTITUTION, "code": code})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert message in html
    assert "Revise estos datos:" in html and 'id="code-error"' in html
    assert "Casa de Acogida Sonsonate" in html  # what she typed is kept
    assert institutions_count(app) == before
    assert audited(app, "institution_create") == []


def test_an_institution_without_a_name_or_with_an_unknown_district_is_refused(app, admin):
    boss = signed_in(app, admin.username)
    answer = send(
        boss,
        "/admin/institutions/new",
        {**VALID_INSTITUTION, "name": " ", "municipality": "atlantida"},
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Este dato es obligatorio." in html and "Elija un distrito de la lista." not in html
    with app.app_context():
        assert (
            db.session.execute(select(Institution).where(Institution.code == "CASA-SON")).first()
            is None
        )


CATALOGUE_PAGES = [
    ("GET", "/admin/services"),
    ("POST", "/admin/services"),
    ("GET", "/admin/services/medical"),
    ("POST", "/admin/services/medical"),
    ("GET", "/admin/measures"),
    ("POST", "/admin/measures/keep_away"),
    ("GET", "/admin/institutions/new"),
    ("POST", "/admin/institutions/new"),
    ("GET", "/admin/territory"),
    ("POST", "/admin/territory/sonsonate"),
]


@pytest.mark.parametrize("role", ["pnc_agent", "supervisor"])
def test_only_administrators_reach_the_catalogue_pages(app, make_person, role):
    person = make_person(role, "PNC-SON" if role == "pnc_agent" else "RED-SON")
    visitor = signed_in(app, person.username)
    token = csrf_token(visitor.get("/account/password").get_data(as_text=True))
    for method, path in CATALOGUE_PAGES:
        answer = visitor.open(
            path, method=method, data={"csrf_token": token, "name_es": "X", "name_en": "X"}
        )
        assert answer.status_code == 403, (method, path)
    with app.app_context():
        assert db.session.get(Service, "medical").name_es == "Atención médica"


def test_a_deactivated_institution_is_not_offered_and_is_refused(app, client, admin, pnc):
    case_id = open_case(client, pnc)
    hospital = institution_id(app, "HOSP-SON")
    worker = signed_in(app, pnc.username)
    assert f'value="{hospital}"' in offered(
        worker.get(f"/cases/{case_id}/forms/remisiones").get_data(as_text=True), "to_institution"
    )
    boss = signed_in(app, admin.username)
    page = f"/admin/institutions/{hospital}"
    answer = send(boss, page, {"name": "Hospital Nacional de Sonsonate", "services": ["medical"]})
    assert answer.status_code == 302
    html = worker.get(f"/cases/{case_id}/forms/remisiones").get_data(as_text=True)
    assert f'value="{hospital}"' not in offered(html, "to_institution")
    refused = refer_by_api(client, pnc, case_id, hospital, "medical")
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["to_institution"] == ["Institución desconocida."]
    assert (
        send(
            boss,
            page,
            {"name": "Hospital Nacional de Sonsonate", "active": "y", "services": ["medical"]},
        ).status_code
        == 302
    )
    assert refer_by_api(client, pnc, case_id, hospital, "medical").status_code == 201


def test_a_deactivated_service_is_not_offered_and_is_refused_and_old_referrals_read_it(
    app, client, admin, pnc
):
    case_id = open_case(client, pnc)
    hospital = institution_id(app, "HOSP-SON")
    sent = refer_by_api(client, pnc, case_id, hospital, "medical")
    assert sent.status_code == 201
    boss = signed_in(app, admin.username)
    answer = send(
        boss,
        "/admin/services/medical",
        {"name_es": "Atención médica general", "name_en": "General medical care"},
    )
    assert answer.status_code == 302
    assert audited(app, "service_update") == ["medical"]
    worker = signed_in(app, pnc.username)
    html = worker.get(f"/cases/{case_id}/forms/remisiones").get_data(as_text=True)
    assert 'value="medical"' not in offered(html, "service")
    refused = refer_by_api(client, pnc, case_id, institution_id(app, "US-SON"), "medical")
    assert refused.status_code == 422
    assert "service" in refused.get_json()["fields"]
    sheet = worker.get(f"/referrals/{sent.get_json()['id']}").get_data(as_text=True)
    assert "Atención médica general" in sheet  # the old referral reads its (new) name
    listing = boss.get("/admin/services").get_data(as_text=True)
    assert "inactivo" in listing


def test_a_service_code_must_be_new_and_well_formed(app, admin):
    boss = signed_in(app, admin.username)
    for code in ("medical", "Apoyo Legal", "1apoyo"):
        answer = send(boss, "/admin/services", {**NEW_SERVICE, "code": code})
        assert answer.status_code == 422, code
        assert 'id="code-error"' in answer.get_data(as_text=True)
    missing = send(boss, "/admin/services", {**NEW_SERVICE, "name_en": ""})
    assert missing.status_code == 422
    assert "Acompañamiento en audiencias" in missing.get_data(as_text=True)  # kept
    with app.app_context():
        assert db.session.get(Service, "acompanamiento_legal") is None
    assert audited(app, "service_create") == []


def test_the_protection_measures_of_art_7_are_seeded_and_administrators_keep_them(
    app, client, admin, pnc
):
    with app.app_context():
        codes = set(db.session.execute(select(MeasureType.code)).scalars())
    assert {
        "stop_harassment",
        "keep_away",
        "leave_home",
        "weapons_seized",
        "custody_support",
    } <= codes
    assert {"temporary_residence", "return_home", "police_protection"} <= codes
    boss = signed_in(app, admin.username)
    new = {
        "code": "electronic_monitoring",
        "name_es": "Vigilancia electrónica del agresor",
        "name_en": "Electronic monitoring",
    }
    assert send(boss, "/admin/measures", new).status_code == 302
    renamed = {
        "name_es": "Prohibición de acercarse a ella",
        "name_en": "Stay away from her",
        "active": "y",
    }
    assert send(boss, "/admin/measures/keep_away", renamed).status_code == 302
    assert (
        send(
            boss,
            "/admin/measures/no_alcohol_drugs",
            {"name_es": "Sin alcohol", "name_en": "No alcohol"},
        ).status_code
        == 302
    )
    assert audited(app, "measure_type_create") == ["electronic_monitoring"]
    assert sorted(audited(app, "measure_type_update")) == ["keep_away", "no_alcohol_drugs"]
    case_id = open_case(client, pnc)
    worker = signed_in(app, pnc.username)
    html = worker.get(f"/cases/{case_id}/forms/denuncia").get_data(as_text=True)
    measures = offered(html, "measure")
    assert (
        "Vigilancia electrónica del agresor" in measures
        and "Prohibición de acercarse a ella" in measures
    )
    assert 'value="no_alcohol_drugs"' not in measures


def test_a_districts_other_names_are_edited_and_found(app, admin):
    boss = signed_in(app, admin.username)
    answer = send(boss, "/admin/territory/sonsonate", {"aliases": "Ciudad de los Cocos\nSonso"})
    assert answer.status_code == 302
    assert audited(app, "district_update") == ["sonsonate"]
    tree = boss.get("/admin/territory").get_data(as_text=True)
    assert "Ciudad de los Cocos" in tree and "Sonsonate Centro" in tree
    bad = send(boss, "/admin/territory/sonsonate", {"aliases": "uno|dos"})
    assert bad.status_code == 422 and "«|»" in bad.get_data(as_text=True)
    with app.app_context():
        from app.directory.territory import resolve_district

        assert resolve_district(db.session, "ciudad de los cocos") == "sonsonate"
    assert boss.get("/admin/territory/no_such_place").status_code == 404


def test_catalogue_load_again_keeps_what_administrators_made(app, admin):
    boss = signed_in(app, admin.username)
    assert send(boss, "/admin/services", NEW_SERVICE).status_code == 302
    renamed = {"name_es": "Atención médica general", "name_en": "General care"}
    assert send(boss, "/admin/services/medical", {**renamed, "active": "y"}).status_code == 302
    assert send(boss, "/admin/institutions/new", VALID_INSTITUTION).status_code == 302
    assert (
        send(boss, "/admin/territory/sonsonate", {"aliases": "Ciudad de los Cocos"}).status_code
        == 302
    )
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["catalogue", "load"])
        assert result.exit_code == 0, result.output
    with app.app_context():
        assert (
            db.session.get(Service, "acompanamiento_legal").name_es
            == "Acompañamiento en audiencias"
        )
        assert db.session.get(Service, "medical").name_es == "Atención médica general"
        assert db.session.execute(
            select(Institution.id).where(Institution.code == "CASA-SON")
        ).first()
        assert "Ciudad de los Cocos" in (db.session.get(District, "sonsonate").aliases or "")
        assert db.session.get(MeasureType, "police_protection") is not None
