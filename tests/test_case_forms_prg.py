"""Every form of the case page answers a post with a redirect (post/redirect/get).

A refused form sends the browser back (303) to the case page at the form's section; the
GET that follows shows it once with what she typed and its errors, and nothing of it was
saved. What she typed crosses the redirect sealed in `form_stashes`: never in clear in the
database nor in the session cookie, bound to her session and the case, read once, gone
after 15 minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.core.time import utcnow
from app.crypto import stash
from app.crypto.models import FormStash
from app.extensions import db
from tests.auth_helpers import SESSION_COOKIE, csrf_token, start_web_session
from tests.factories import intake
from tests.test_database_plaintext import database_bytes

API = "/api/v1"


@dataclass
class Refusal:
    """One form of the case page, posted so that it is refused."""

    name: str
    path: str  # after /cases/<id>
    data: dict[str, Any]
    anchor: str
    error: str  # what the page says after the redirect
    typed: str | None  # a text she typed that must come back, and be stored nowhere


def refusals(ids: dict[str, Any]) -> list[Refusal]:
    own = ids["own_institution"]
    return [
        Refusal(
            "note",
            "/notes",
            {"kind": "bogus", "given_on": "2026-11-30", "text": "Contó lo del zaguán azul"},
            "notas",
            "Código desconocido",
            "Contó lo del zaguán azul",
        ),
        Refusal(
            "follow-up",
            "/follow-ups",
            {"due_on": "", "channel": "phone"},
            "seguimiento",
            "Este dato es obligatorio.",
            None,
        ),
        Refusal(
            "outcome",
            f"/follow-ups/{ids['follow_up']}/outcome",
            {"outcome": "bogus", "note": "Atendió la vecina Eudocia", "version": "1"},
            "seguimiento",
            "Resultado: Código desconocido",
            None,  # a row's small form: its errors are said with the field's label
        ),
        Refusal(
            "safety plan",
            "/safety-plan",
            {"plan": ""},
            "plan",
            "Este dato es obligatorio.",
            None,
        ),
        Refusal(
            "close without a reason",
            "/status",
            {"status": "closed", "version": str(ids["version"])},
            "estado",
            "Indique por qué se cierra el caso.",
            None,
        ),
        Refusal(
            "complaint",
            "/complaints",
            {"number": "", "court": "Juzgado Especializado Quetzaltepeque"},
            "denuncia",
            "Este dato es obligatorio.",
            "Juzgado Especializado Quetzaltepeque",
        ),
        Refusal(
            "referral to her own institution",
            "/referrals",
            {
                "to_institution": str(own),
                "service": "police_complaint",
                "urgency": "priority",
                "reason": "Teme que él vuelva el viernes",
                "consent": "y",
            },
            "remisiones",
            "Remita a otra institución.",
            "Teme que él vuelva el viernes",
        ),
        Refusal(
            "survivor correction without a reason",
            "/survivor",
            {
                "fix-given_names": "María José",
                "fix-family_names": "López Hernández",
                "fix-birth_date": "1994-03-15",
                "fix-sex": "F",
                "fix-municipality": "sonsonate",
                "fix-address": "Colonia Las Gardenias, pasaje Ñ",
                "fix-reason": "",
                "fix-version": "1",
            },
            "identidad",
            "Explique por qué se corrige.",
            "Colonia Las Gardenias, pasaje Ñ",
        ),
        Refusal(
            "void without a reason",
            f"/incidents/{ids['incident']}/void",
            {"reason": ""},
            "hechos",
            "Explique por qué se corrige.",
            None,
        ),
        Refusal(
            "attachment without a file",
            "/attachments",
            {"description": "Constancia de Medicina Legal"},
            "adjuntos",
            "adjuntos-errores",
            "Constancia de Medicina Legal",
        ),
    ]


@pytest.fixture
def world(app: Flask, client: FlaskClient, pnc) -> dict[str, Any]:
    created = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()
    case_id = created["id"]
    follow_up = client.post(
        f"{API}/cases/{case_id}/follow-ups",
        json={"due_on": "2026-12-20", "channel": "phone"},
        headers=pnc.headers,
    ).get_json()
    shown = record(client, pnc, case_id)
    institutions = client.get(f"{API}/institutions", headers=pnc.headers).get_json()["items"]
    start_web_session(app, client, pnc.username)
    return {
        "case_id": case_id,
        "page": f"/cases/{case_id}",
        "follow_up": follow_up["id"],
        "incident": shown["incidents"][0]["id"],
        "version": shown["version"],
        "own_institution": next(i["id"] for i in institutions if i["code"] == "PNC-SON"),
    }


def record(client: FlaskClient, person, case_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200
    return response.get_json()


def unchanged_part(shown: dict[str, Any]) -> dict[str, Any]:
    """What a refused form must leave as it was (the timeline lists reads too)."""
    return {k: v for k, v in shown.items() if k not in ("timeline",)}


def stashes(app: Flask) -> list[FormStash]:
    with app.app_context():
        return list(db.session.execute(select(FormStash)).scalars())


def post(client: FlaskClient, page: str, path: str, data: dict[str, Any]):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(page + path, data={**data, "csrf_token": token})


NAMES = [
    r.name for r in refusals({"own_institution": 0, "follow_up": "", "version": 1, "incident": ""})
]


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_a_refused_case_form_redirects_to_its_section_and_comes_back_once(
    app, client, pnc, world, index
):
    refusal = refusals(world)[index]
    before = unchanged_part(record(client, pnc, world["case_id"]))
    answer = post(client, world["page"], refusal.path, refusal.data)

    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"{world['page']}#{refusal.anchor}")
    assert unchanged_part(record(client, pnc, world["case_id"])) == before
    [kept] = stashes(app)
    if refusal.typed:
        assert refusal.typed.encode() not in kept.sealed
        assert refusal.typed.encode("utf-8") not in database_bytes(app)

    shown = client.get(answer.headers["Location"])
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert refusal.error in html
    assert "<title>Error: " in html
    if refusal.typed:
        assert refusal.typed in html
    assert stashes(app) == []  # read once: deleted as it was shown

    again = client.get(world["page"]).get_data(as_text=True)
    assert refusal.error not in again
    assert "<title>Error: " not in again
    if refusal.typed:
        assert refusal.typed not in again


def test_a_refused_form_says_its_errors_in_its_section_not_at_the_top(client, world):
    answer = post(
        client, world["page"], "/status", {"status": "closed", "version": str(world["version"])}
    )
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    section = html.index('id="estado"')
    assert html.index("Indique por qué se cierra el caso.") > section
    assert 'id="estado-errores"' in html and 'href="#close_reason"' in html
    assert html.count("data-error-focus") >= 1


def test_a_successful_case_form_redirects_with_303_to_its_section(app, client, pnc, world):
    answer = post(
        client,
        world["page"],
        "/notes",
        {"kind": "legal", "given_on": "2026-11-30", "text": "Asesoría sobre medidas"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("#notas")
    assert stashes(app) == []
    notes = record(client, pnc, world["case_id"])["notes"]
    assert [n["text"] for n in notes] == ["Asesoría sobre medidas"]


def test_the_session_cookie_carries_only_the_stash_id(app, client, world):
    post(client, world["page"], "/notes", {"kind": "bogus", "text": "Contó lo del zaguán azul"})
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    opened = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert "Contó" not in repr(opened) and "zaguán" not in repr(opened)
    [kept] = stashes(app)
    assert opened["form_stash"] == str(kept.id)


def test_another_session_of_the_same_user_does_not_get_the_form(app, client, pnc, world):
    post(client, world["page"], "/notes", {"kind": "bogus", "text": "Contó lo del zaguán azul"})
    other = app.test_client()
    start_web_session(app, other, pnc.username)
    with client.session_transaction() as mine:
        stash_id = mine["form_stash"]
    with other.session_transaction() as theirs:
        theirs["form_stash"] = stash_id  # even with the id copied over
    assert "zaguán azul" not in other.get(world["page"]).get_data(as_text=True)
    assert len(stashes(app)) == 1  # still hers, until she reads it or it expires
    assert "zaguán azul" in client.get(world["page"]).get_data(as_text=True)


def test_a_stash_for_another_case_is_not_shown_there(app, client, pnc, world):
    other = client.post(
        f"{API}/cases", json=intake({"dui": None, "given_names": "Otra"}), headers=pnc.headers
    ).get_json()
    post(client, world["page"], "/notes", {"kind": "bogus", "text": "Contó lo del zaguán azul"})
    assert "zaguán azul" not in client.get(f"/cases/{other['id']}").get_data(as_text=True)
    assert "zaguán azul" in client.get(world["page"]).get_data(as_text=True)


def test_an_expired_stash_is_not_shown_and_is_deleted_by_the_next_write(app, client, world):
    post(client, world["page"], "/notes", {"kind": "bogus", "text": "Contó lo del zaguán azul"})
    with app.app_context():
        db.session.execute(update(FormStash).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    assert "zaguán azul" not in client.get(world["page"]).get_data(as_text=True)
    assert stashes(app) == []

    post(client, world["page"], "/notes", {"kind": "bogus", "text": "Primera vez"})
    with app.app_context():
        db.session.execute(update(FormStash).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    other = app.test_client()
    start_web_session(app, other, "agente.test")
    post(other, world["page"], "/notes", {"kind": "bogus", "text": "Segunda vez"})
    with app.app_context():
        left = db.session.execute(select(func.count()).select_from(FormStash)).scalar_one()
    assert left == 1  # the expired one went when the new one was written


def test_a_stash_moved_to_another_row_does_not_open(app, client, pnc, world):
    post(client, world["page"], "/notes", {"kind": "bogus", "text": "Contó lo del zaguán azul"})
    other = app.test_client()
    start_web_session(app, other, pnc.username)
    post(other, world["page"], "/notes", {"kind": "bogus", "text": "Otra cosa"})
    first, second = sorted(stashes(app), key=lambda row: row.created_at)
    with app.app_context():  # her blob pasted into the other session's row
        db.session.execute(
            update(FormStash).where(FormStash.id == second.id).values(sealed=first.sealed)
        )
        db.session.commit()
    html = other.get(world["page"]).get_data(as_text=True)
    assert "zaguán azul" not in html and "Otra cosa" not in html


def test_break_glass_never_keeps_the_password(app, client, supervisor, pnc):
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    start_web_session(app, client, supervisor.username)
    page = f"/cases/{case_id}"
    answer = post(
        client, page, "/break-glass", {"reason": "Pide la fiscalía", "password": "Clave-Secreta-9"}
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("#emergencia")
    assert b"Clave-Secreta-9" not in database_bytes(app)
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Pide la fiscalía" in html and "Clave-Secreta-9" not in html


def test_an_outsider_posting_a_bad_form_gets_404_and_no_stash(app, client, pnc, make_person):
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    outsider = make_person("health_staff", "HOSP-SON", "otra.salud")
    start_web_session(app, client, outsider.username)
    token = csrf_token(client.get("/").get_data(as_text=True))
    answer = client.post(
        f"/cases/{case_id}/notes", data={"kind": "bogus", "text": "x", "csrf_token": token}
    )
    assert answer.status_code == 404
    assert stashes(app) == []


def _form_pages(client, page: str, *sections: str) -> str:
    """The case page's forms, each opened on its own page (the case page links to them)."""
    case_page = client.get(page).get_data(as_text=True)
    html = ""
    for section in sections:
        assert f'href="{page}/forms/{section}"' in case_page, section
        answer = client.get(f"{page}/forms/{section}")
        assert answer.status_code == 200, section
        html += answer.get_data(as_text=True)
    return html


def test_the_required_fields_are_marked_and_aria_required(client, world):
    html = _form_pages(
        client, world["page"], "notas", "seguimiento", "estado", "remisiones", "denuncia"
    )
    assert "Los campos marcados con * son obligatorios." in html
    assert 'aria-required="true"' in html
    for field in ("text", "due_on", "status", "to_institution", "service", "number"):
        assert f'aria-required="true" id="{field}"' in html or (
            f'id="{field}"' in html and _tag_of(html, field).count('aria-required="true"') == 1
        ), field
    assert 'aria-required="true"' not in _tag_of(html, "given_on")  # optional: not marked
    # The asterisk is drawn by the label's class (seen, not only a colour), for each mark.
    assert re.search(r'<label class="needed" for="text">Nota</label>', html)
    assert re.search(r'<label for="given_on">Fecha</label>', html)


def _tag_of(html: str, field_id: str) -> str:
    start = html.rindex("<", 0, html.index(f'id="{field_id}"'))
    return html[start : html.index(">", start)]


def test_the_referral_form_offers_neither_her_own_institution_nor_one_without_the_service(
    client, world
):
    html = _form_pages(client, world["page"], "remisiones")
    start = html.index('name="to_institution"')
    offered = html[start : html.index("</select>", start)]
    assert f'value="{world["own_institution"]}"' not in offered
    assert 'data-services="medical psychological"' in offered
    answer = post(
        client,
        world["page"],
        "/referrals",
        {"to_institution": "", "service": "medical", "reason": "", "consent": "y"},
    )
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    start = shown.index('name="to_institution"')
    offered = shown[start : shown.index("</select>", start)]
    assert "Unidad de Salud Sonsonate" in offered and "Hospital Nacional de Sonsonate" in offered
    assert "PNC" not in offered and "Fiscalía" not in offered  # they give no medical care


def test_the_api_refuses_a_referral_to_her_own_institution(client, pnc, world):
    answer = client.post(
        f"{API}/cases/{world['case_id']}/referrals",
        json={
            "to_institution": world["own_institution"],
            "service": "police_complaint",
            "consent": True,
        },
        headers=pnc.headers,
    )
    assert answer.status_code == 422
    assert answer.get_json()["fields"]["to_institution"] == ["Remita a otra institución."]


# ---- the sealed store itself (app/crypto/stash.py) ----------------------------------------


def test_a_stash_opens_only_for_its_purpose_and_once(app, pnc):
    with app.test_request_context():
        ring = app.extensions["ruta.keyring"]
        owner = stash.Owner(pnc.id, 1, None)
        kept = stash.put(db.session, ring, owner, "form", {"values": [["text", "Su relato"]]})
        assert stash.take(db.session, ring, kept, owner, "slip") is None  # not a slip
        assert stash.take(db.session, ring, kept, stash.Owner(pnc.id, 2, None), "form") is None
        assert stash.take(db.session, ring, kept, owner, "form") == {
            "values": [["text", "Su relato"]]
        }
        assert stash.take(db.session, ring, kept, owner, "form") is None  # read once


def test_a_stash_sealed_before_a_key_rotation_still_opens(app, pnc):
    with app.test_request_context():
        ring = app.extensions["ruta.keyring"]
        owner = stash.Owner(pnc.id, 1, None)
        kept = stash.put(db.session, ring, owner, "slip", {"pin": "123456"})
        db.session.commit()
        ring.rotate()
        assert stash.take(db.session, ring, kept, owner, "slip") == {"pin": "123456"}
