"""The case page draws its forms only when opened (issue 16): each has a link of its own
to a page with the case's header and that one form, which posts to the same action; a
refused form comes back to the case page, in place, with what she typed."""

from __future__ import annotations

import re

from app.audit.models import AuditEvent
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import intake

API = "/api/v1"
SECTIONS = {  # section → the action its form posts to (after /cases/<id>)
    "notas": "/notes",
    "seguimiento": "/follow-ups",
    "remisiones": "/referrals",
    "denuncia": "/complaints",
    "adjuntos": "/attachments",
    "consentimiento": "/consent",
    "estado": "/status",
    "plan": "/safety-plan",
    "identidad": "/survivor",
    "cambiar-contacto": "/safe-contact",
    "cambiar-necesidades": "/access-needs",
    "agresores": "/aggressors",
    "menores": "/dependants",
}


def open_case(app, client, pnc) -> str:
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    start_web_session(app, client, pnc.username)
    return f"/cases/{case_id}"


def test_the_case_page_links_each_form_instead_of_drawing_it(app, client, pnc):
    page = open_case(app, client, pnc)
    html = client.get(page).get_data(as_text=True)
    for section, action in SECTIONS.items():
        assert f'<a class="button" href="{page}/forms/{section}">' in html, section
        assert f'action="{page}{action}"' not in html, section
    assert 'name="text"' not in html and 'name="to_institution"' not in html


def test_a_form_page_shows_the_case_header_and_that_one_form(app, client, pnc):
    page = open_case(app, client, pnc)
    number = client.get(page).get_data(as_text=True).split("Expediente ", 1)[1].split("<")[0]
    for section, action in SECTIONS.items():
        html = client.get(f"{page}/forms/{section}").get_data(as_text=True)
        assert f"Expediente {number}" in html, section
        case_forms = [a for a in re.findall(r'action="([^"]+)"', html) if a.startswith(page)]
        assert case_forms == [page + action], section
        assert f'href="{page}#{section}"' in html  # back to her record, at the section


def test_a_note_refused_from_its_own_page_comes_back_in_place_with_what_she_typed(app, client, pnc):
    page = open_case(app, client, pnc)
    form_page = client.get(f"{page}/forms/notas").get_data(as_text=True)
    answer = client.post(
        f"{page}/notes",
        data={
            "kind": "bogus",
            "text": "Llamó desde otro número",
            "csrf_token": csrf_token(form_page),
        },
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"{page}#notas")
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    notes = html[html.index('id="notas"') :]
    assert 'id="notas-errores"' in notes
    assert "Llamó desde otro número" in notes
    assert f'action="{page}/notes"' in notes
    again = client.get(page).get_data(as_text=True)
    assert "Llamó desde otro número" not in again  # once


def test_the_plan_and_the_consent_are_read_on_the_page_without_their_forms(app, client, pnc):
    page = open_case(app, client, pnc)
    form_page = client.get(f"{page}/forms/plan").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="([^"]*)"', form_page)
    data = {"plan": "Salir por la casa de la vecina", "csrf_token": csrf_token(form_page)}
    if version:
        data["version"] = version.group(1)
    assert client.post(f"{page}/safety-plan", data=data).status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "Salir por la casa de la vecina" in html
    assert 'name="plan"' not in html
    assert "Remitir y compartir con la red: Sí" in html


def test_opening_a_form_page_is_an_audited_read(app, client, pnc):
    page = open_case(app, client, pnc)
    with app.app_context():
        before = db.session.query(AuditEvent).count()
    assert client.get(f"{page}/forms/identidad").status_code == 200
    with app.app_context():
        assert db.session.query(AuditEvent).count() > before


def test_a_form_she_may_not_use_or_an_unknown_one_is_refused(app, client, pnc, make_person):
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    supervisor = make_person("supervisor", "RED-SON")
    start_web_session(app, client, supervisor.username)
    assert client.get(f"/cases/{case_id}/forms/notas").status_code == 403
    start_web_session(app, client, pnc.username)
    assert client.get(f"/cases/{case_id}/forms/nada").status_code == 404
