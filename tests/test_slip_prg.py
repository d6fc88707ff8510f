"""The survivor's slip is a GET after the intake's post (post/redirect/get).

The code and PIN are shown once: a reload or Back shows them no more and never posts the
intake again; they are never in a URL; until the slip is shown they wait sealed (the PIN
is in clear nowhere). The slip says where to look her case up (this server's /status),
her office's phone and the help lines 126 and 911.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.cases.models import Case
from app.crypto.models import FormStash
from app.directory.models import Institution
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.test_database_plaintext import database_bytes

OFFICE_PHONE = "2451-7788"
INTAKE = {
    "given_names": "Rosa Amelia",
    "family_names": "López Hernández",
    "birth_date": "1994-03-15",
    "sex": "F",
    "municipality": "sonsonate",
    "occurred_on": "2026-10-30",
    "incident_municipality": "sonsonate",
    "violence_types": ["physical"],
    "perpetrator_relationship": "partner",
    "share_with_network": "y",
}
CODE_AND_PIN = re.compile(r"<dt>Código</dt><dd>([^<]+)</dd>\s*<dt>PIN</dt><dd>([^<]+)</dd>")


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient, pnc) -> FlaskClient:
    with app.app_context():
        db.session.execute(
            update(Institution).where(Institution.code == "PNC-SON").values(phone=OFFICE_PHONE)
        )
        db.session.commit()
    start_web_session(app, client, pnc.username)
    return client


def open_by_page(client: FlaskClient, **changes: object):
    token = csrf_token(client.get("/cases/new").get_data(as_text=True))
    return client.post("/cases/new", data={**INTAKE, **changes, "csrf_token": token})


def cases(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Case)).scalar_one()


def test_the_intake_redirects_to_the_slip_which_shows_the_pin_once(app, signed_in):
    opened = open_by_page(signed_in)
    assert opened.status_code == 303
    location = opened.headers["Location"]
    assert re.search(r"/cases/[0-9a-f-]{36}/slip$", location)

    slip = signed_in.get(location)
    html = slip.get_data(as_text=True)
    assert slip.status_code == 200
    code, pin = CODE_AND_PIN.search(html).groups()
    assert code not in location and pin not in location
    assert len(pin) >= 6

    again = signed_in.get(location).get_data(as_text=True)  # a reload, or Back
    assert pin not in again and code not in again
    assert "ya se mostraron una vez" in again
    assert cases(app) == 1  # nothing was posted again


def test_the_slip_says_where_to_check_her_case_and_whom_to_call(signed_in):
    html = signed_in.get(open_by_page(signed_in).headers["Location"]).get_data(as_text=True)
    assert "http://localhost/status" in html
    assert OFFICE_PHONE in html and "PNC — UNIMUJER-ODAC Sonsonate" in html
    assert "Llame al 126" in html and "Llame al 911" in html


def test_the_pin_waits_sealed_until_the_slip_is_shown(app, signed_in):
    opened = open_by_page(signed_in)
    [kept] = _stashes(app)
    assert kept.purpose == "slip"
    dump = database_bytes(app)
    html = signed_in.get(opened.headers["Location"]).get_data(as_text=True)
    code, pin = CODE_AND_PIN.search(html).groups()
    assert pin.encode() not in dump and code.encode() not in dump
    assert pin.encode() not in kept.sealed
    assert _stashes(app) == []


def test_the_slip_is_for_the_session_that_opened_the_case(app, signed_in, pnc):
    opened = open_by_page(signed_in)
    other = app.test_client()
    start_web_session(app, other, pnc.username)
    with signed_in.session_transaction() as mine:
        stash_id = mine["slip_stash"]
    with other.session_transaction() as theirs:
        theirs["slip_stash"] = stash_id
    html = other.get(opened.headers["Location"]).get_data(as_text=True)
    assert not CODE_AND_PIN.search(html)
    assert CODE_AND_PIN.search(signed_in.get(opened.headers["Location"]).get_data(as_text=True))


def test_someone_outside_the_case_cannot_open_its_slip_page(app, signed_in, make_person):
    location = open_by_page(signed_in).headers["Location"]
    outsider = app.test_client()
    start_web_session(app, outsider, make_person("health_staff", "HOSP-SON", "otra").username)
    assert outsider.get(location).status_code == 404


def test_a_failed_intake_keeps_what_was_typed_and_says_error_in_the_title(app, signed_in):
    refused = open_by_page(signed_in, family_names="", address="Cantón El Zope, casa 4")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "<title>Error: Nuevo ingreso" in html
    assert 'value="Cantón El Zope, casa 4"' in html and 'value="Rosa Amelia"' in html
    assert 'id="errores"' in html and "data-error-focus" in html and 'href="#family_names"' in html
    assert 'aria-required="true"' in html and "Los campos marcados con * son obligatorios." in html
    assert cases(app) == 0


def _stashes(app: Flask) -> list[FormStash]:
    with app.app_context():
        return list(db.session.execute(select(FormStash)).scalars())
