"""Possible duplicates (issue 11, item 5): at intake and from the case page, records that
may be hers (similar name, same birth year, same phone) among those the caller may see
only; and the same incident entered twice, refused until confirmed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases import policy
from app.cases.models import Case, CaseParty, Incident
from app.extensions import db
from tests.auth_helpers import csrf_token, post_form, start_web_session
from tests.conftest import Person
from tests.factories import incident, intake

SHARE = {"share_with_network": True, "statistics": True, "police": True}
TYPED = {  # the same woman, typed again with her surnames misspelt and no DUI
    "given_names": "Maria",
    "family_names": "Lopes Ernandes",
    "birth_date": "1994-07-01",
    "phone": None,
}


def open_case(
    client: FlaskClient,
    person: Person,
    consent: dict[str, Any] | None = None,
    incident_overrides: dict[str, Any] | None = None,
    **survivor: Any,
) -> dict[str, Any]:
    body = intake(
        survivor_overrides=survivor, incident_overrides=incident_overrides, consent=consent
    )
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def duplicates(client: FlaskClient, person: Person, **survivor: Any) -> Any:
    body = {k: v for k, v in survivor.items() if v is not None}
    return client.post("/api/v1/cases/duplicates", json=body, headers=person.headers)


def found(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.fixture
def outsider(make_person) -> Person:
    return make_person("pnc_agent", "PNC-ACA", "agente.acajutla")


# ---- the same woman, twice --------------------------------------------------------------


def test_a_similar_name_and_birth_year_show_a_visible_record(client, pnc):
    created = open_case(client, pnc)  # María José López Hernández, 1994-03-15
    items = found(duplicates(client, pnc, **TYPED))
    assert [item["id"] for item in items] == [created["id"]]
    assert items[0]["reasons"] == ["name", "birth_year"]
    assert items[0]["name"] == "María José López Hernández"


def test_a_record_the_caller_may_not_see_is_never_shown_nor_hinted(client, pnc, outsider):
    open_case(client, pnc)
    theirs = duplicates(client, outsider, **TYPED, dui="12345678-4")
    nobody = duplicates(client, outsider, given_names="Zuleima", family_names="Inexistente")
    assert theirs.get_json() == nobody.get_json() == {"items": []}


def test_the_same_phone_alone_is_a_possible_match_and_a_birth_year_alone_is_not(client, pnc):
    created = open_case(client, pnc)
    by_phone = found(duplicates(client, pnc, given_names="Rosa", phone="+503 7777 1234"))
    assert [(i["id"], i["reasons"]) for i in by_phone] == [(created["id"], ["phone"])]
    assert found(duplicates(client, pnc, given_names="Rosa", birth_date="1994-03-15")) == []


def test_an_own_parts_party_sees_a_possible_match_without_her_name(client, pnc, health):
    created = open_case(client, pnc, consent={"share_with_network": False})
    assert open_case(client, health, consent={"share_with_network": False})["access"] == (
        "own_parts"
    )
    items = found(duplicates(client, health, **TYPED))
    assert [(i["number"], i["access"], i["name"]) for i in items] == [
        (created["number"], "own_parts", None)
    ]


def test_nothing_to_compare_is_422_and_a_check_is_audited_with_its_count(app, client, pnc):
    refused = duplicates(client, pnc, birth_date="1994-03-15")
    assert refused.status_code == 422
    open_case(client, pnc)
    found(duplicates(client, pnc, **TYPED))
    with app.app_context():
        details = list(
            db.session.execute(
                select(AuditEvent.detail).where(AuditEvent.action == "case_search")
            ).scalars()
        )
    assert details == ["duplicates;results=1"]


def test_a_case_lists_her_other_visible_records_but_not_itself(client, pnc, womens, outsider):
    first = open_case(client, pnc)
    second = open_case(client, pnc, dui=None, **{k: v for k, v in TYPED.items() if v})
    assert first["id"] != second["id"]
    response = client.get(f"/api/v1/cases/{second['id']}/duplicates", headers=pnc.headers)
    assert [i["id"] for i in found(response)] == [first["id"]]
    assert (
        client.get(f"/api/v1/cases/{second['id']}/duplicates", headers=outsider.headers).status_code
        == 404
    )
    # A party with only its own parts does not know her name: it may not ask by it.
    joined = open_case(client, womens, consent={"share_with_network": False})
    assert joined["id"] == first["id"] and joined["access"] == "own_parts"
    assert (
        client.get(f"/api/v1/cases/{first['id']}/duplicates", headers=womens.headers).status_code
        == 403
    )


def test_the_intake_page_button_posts_what_was_typed_and_saves_nothing(app, client, pnc, outsider):
    mine = open_case(client, pnc)
    theirs = open_case(client, outsider, dui=None, given_names="María", family_names="Lopes")
    start_web_session(app, client, pnc.username)
    form = {
        "given_names": "Maria",
        "family_names": "Lopes Ernandes",
        "birth_date": "1994-07-01",
        "check_duplicates": "1",
    }
    page = post_form(client, "/cases/new", form)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Posibles coincidencias" in html and mine["number"] in html
    assert theirs["number"] not in html
    assert 'value="Lopes Ernandes"' in html  # the form keeps what was typed
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar() == 2


# ---- the same incident, twice -------------------------------------------------------------


def add_incident(client: FlaskClient, person: Person, case_id: str, **overrides: Any) -> Any:
    body = incident(**{"confirm_new": ..., **overrides})
    return client.post(f"/api/v1/cases/{case_id}/incidents", json=body, headers=person.headers)


def test_the_same_incident_again_is_409_until_confirmed(app, client, pnc):
    case_id = open_case(client, pnc)["id"]  # 2026-10-30, physical + psychological
    again = add_incident(client, pnc, case_id, violence_types=["physical"])
    assert again.status_code == 409
    assert again.get_json()["error"] == "possible_duplicate_incident"
    assert "confirm_new" in again.get_json()["fields"]
    assert add_incident(client, pnc, case_id, confirm_new=True).status_code == 201
    assert add_incident(client, pnc, case_id, occurred_on="2026-10-29").status_code == 201
    assert add_incident(client, pnc, case_id, violence_types=["economic"]).status_code == 201
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Incident)).scalar() == 4


def test_the_same_incident_at_a_second_intake_is_refused_and_nothing_is_joined(
    app, client, pnc, womens
):
    case_id = open_case(client, pnc, consent=SHARE)["id"]
    body = intake(incident_overrides={"confirm_new": ...}, consent=SHARE)
    refused = client.post("/api/v1/cases", json=body, headers=womens.headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "possible_duplicate_incident"
    with app.app_context():
        parties = db.session.execute(select(func.count()).select_from(CaseParty)).scalar()
        assert parties == 1
    body["incident"]["confirm_new"] = True
    joined = client.post("/api/v1/cases", json=body, headers=womens.headers)
    assert joined.status_code == 201 and joined.get_json()["id"] == case_id


def test_an_own_parts_joiner_is_not_told_of_incidents_it_may_not_see(client, pnc, health):
    open_case(client, pnc, consent={"share_with_network": False})
    body = intake(incident_overrides={"confirm_new": ...}, consent={"share_with_network": False})
    joined = client.post("/api/v1/cases", json=body, headers=health.headers)
    assert joined.status_code == 201 and joined.get_json()["access"] == "own_parts"


def test_the_incident_page_warns_and_offers_the_confirmation(app, client, pnc):
    case_id = open_case(client, pnc)["id"]
    start_web_session(app, client, pnc.username)
    form = {
        "occurred_on": "2026-10-30",
        "incident_municipality": "sonsonate",
        "violence_types": ["physical"],
        "perpetrator_relationship": "partner",
    }
    posted = post_form(client, f"/cases/{case_id}/incidents/new", form)
    assert posted.status_code == 303  # post/redirect/get: the form comes back by GET
    page = client.get(posted.headers["Location"])
    html = page.get_data(as_text=True)
    assert "ya tiene un hecho del 2026-10-30" in html and 'name="confirm_new"' in html
    confirmed = client.post(
        f"/cases/{case_id}/incidents/new",
        data={**form, "confirm_new": "y", "csrf_token": csrf_token(html)},
    )
    assert confirmed.status_code == 303


@pytest.mark.parametrize(
    ("existing", "new", "same"),
    [
        ((date(2026, 10, 30), ["physical", "sexual"]), (date(2026, 10, 30), ["sexual"]), True),
        ((date(2026, 10, 30), ["physical"]), (date(2026, 10, 31), ["physical"]), False),
        ((date(2026, 10, 30), ["physical"]), (date(2026, 10, 30), ["economic"]), False),
    ],
)
def test_same_incident_is_the_same_day_and_a_type_in_common(existing, new, same):
    assert policy.same_incident(existing, new) is same


def test_the_intake_page_warns_of_the_same_incident_and_saves_once_confirmed(
    app, client, pnc, womens
):
    created = open_case(client, pnc, consent=SHARE)  # 2026-10-30, physical + psychological
    start_web_session(app, client, womens.username)
    form = {
        "given_names": "María José",
        "family_names": "López Hernández",
        "dui": "12345678-4",
        "birth_date": "1994-03-15",
        "sex": "F",
        "municipality": "sonsonate",
        "occurred_on": "2026-10-30",
        "incident_municipality": "sonsonate",
        "violence_types": ["physical"],
        "perpetrator_relationship": "partner",
        "share_with_network": "y",
    }
    page = post_form(client, "/cases/new", form)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "ya tiene un hecho del 2026-10-30" in html and 'name="confirm_new"' in html
    assert 'value="López Hernández"' in html
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(CaseParty)).scalar() == 1
    saved = client.post(
        "/cases/new", data={**form, "confirm_new": "y", "csrf_token": csrf_token(html)}
    )
    assert saved.status_code == 303
    assert created["id"] in saved.headers["Location"]


def test_a_closed_case_still_lists_her_other_records(client, pnc):
    first = open_case(client, pnc)
    second = open_case(client, pnc, dui=None, **{k: v for k, v in TYPED.items() if v})
    record = client.get(f"/api/v1/cases/{second['id']}", headers=pnc.headers).get_json()
    closed = client.post(
        f"/api/v1/cases/{second['id']}/status",
        json={"status": "closed", "reason": "other", "version": record["version"]},
        headers=pnc.headers,
    )
    assert closed.status_code == 200, closed.get_json()
    response = client.get(f"/api/v1/cases/{second['id']}/duplicates", headers=pnc.headers)
    assert [i["id"] for i in found(response)] == [first["id"]]
