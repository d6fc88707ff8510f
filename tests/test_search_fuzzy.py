"""Search that people can use (issue 11, item 3): a partial or misspelt name, a phone
number, among the cases her institution may see only; her name shown only to a caller
with the whole record; the search audited with its count, never what was typed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from app.audit.models import AuditEvent
from app.cases.models import Survivor
from app.cases.name_tokens import name_codes, phone_digits, phonetic, similarity, token_of
from app.cases.record_models import SurvivorNameToken
from app.extensions import db
from tests.auth_helpers import post_form, start_web_session
from tests.conftest import Person
from tests.factories import intake

FULL_NAME = "María José López Hernández"
CANDIDATE_KEYS = {"id", "number", "status", "created_at", "access", "name", "score", "reasons"}
SHARE = {"share_with_network": True, "statistics": True, "police": True}


def open_case(
    client: FlaskClient, person: Person, consent: dict[str, Any] | None = None, **survivor: Any
) -> dict[str, Any]:
    body = intake(survivor_overrides=survivor, consent=consent)
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def search(client: FlaskClient, person: Person, **body: Any) -> list[dict[str, Any]]:
    response = client.post("/api/v1/cases/search", json=body, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert all(set(item) == CANDIDATE_KEYS for item in items), items
    return items


@pytest.fixture
def outsider(make_person) -> Person:
    return make_person("pnc_agent", "PNC-ACA", "agente.acajutla")


# ---- the phonetic code ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "known"),
    [
        ("Lopes", "López"),
        ("Ernandes", "Hernández"),
        ("Basques", "Vásquez"),
        ("Rodrigues", "Rodríguez"),
        ("Siomara", "Xiomara"),
        ("Castiyo", "Castillo"),
        ("Maira", "Mayra"),
        ("Kintaniya", "Quintanilla"),
        ("Sesilia", "Cecilia"),
        ("Nunes", "Núñez"),
        ("Jerardo", "Gerardo"),
        ("Martines", "Martínez"),
        ("Chaves", "Chávez"),
    ],
)
def test_spanish_spellings_that_sound_alike_have_one_code(typed, known):
    assert phonetic(typed) == phonetic(known) != ""


@pytest.mark.parametrize(
    ("one", "other"), [("López", "Pérez"), ("Rosa", "Rosales"), ("Ana", "Ania")]
)
def test_names_that_sound_different_keep_different_codes(one, other):
    assert phonetic(one) != phonetic(other)


def test_particles_initials_and_repeats_are_left_out_of_a_name():
    assert name_codes("Flor de María  M. de la Cruz, maría") == ["flor", "maria", "krus"]
    assert name_codes("de la") == []


def test_the_closer_name_ranks_higher():
    typed = name_codes("Maria Lopes")
    assert similarity(typed, name_codes(FULL_NAME)) > similarity(typed, name_codes("María Pérez"))
    assert similarity(typed, name_codes("Rosa Ayala")) == 0.0 or similarity(
        typed, name_codes("Rosa Ayala")
    ) < similarity(typed, name_codes("María Pérez"))


def test_phone_digits_ignore_dashes_spaces_and_the_country_code():
    assert phone_digits("+503 7777-1234") == phone_digits("7777 1234") == "77771234"
    assert phone_digits("12") is None and phone_digits(None) is None


# ---- POST /api/v1/cases/search {"name_like"} ----------------------------------------------


@pytest.mark.parametrize(
    "typed", ["Maria Lopes", "Lopez", "lopes ernandes", "MARÍA JOSÉ", "Hernandes Maria"]
)
def test_a_partial_or_misspelt_name_finds_her(client, pnc, typed):
    created = open_case(client, pnc)
    items = search(client, pnc, name_like=typed)
    assert [item["id"] for item in items][:1] == [created["id"]], typed
    assert items[0]["name"] == FULL_NAME and items[0]["access"] == "full"


def test_the_closest_record_comes_first(client, pnc):
    other = open_case(client, pnc, given_names="María", family_names="Pérez Ayala", dui=None)
    her = open_case(client, pnc)
    items = search(client, pnc, name_like="Maria Lopes")
    assert [item["id"] for item in items] == [her["id"], other["id"]]
    assert items[0]["score"] > items[1]["score"]
    assert search(client, pnc, name_like="Zuleima Inexistente") == []


def test_a_birth_year_narrows_the_candidates(client, pnc):
    created = open_case(client, pnc)
    assert [i["id"] for i in search(client, pnc, name_like="Lopez", birth_year=1994)] == [
        created["id"]
    ]
    assert search(client, pnc, name_like="Lopez", birth_year=1995) == []


def test_a_case_of_another_institution_is_never_returned_nor_hinted_at(client, pnc, outsider):
    open_case(client, pnc)
    theirs = client.post(
        "/api/v1/cases/search", json={"name_like": "Maria Lopes"}, headers=outsider.headers
    )
    nobody = client.post(
        "/api/v1/cases/search", json={"name_like": "Zuleima Inexistente"}, headers=outsider.headers
    )
    assert theirs.status_code == nobody.status_code == 200
    assert theirs.get_json() == nobody.get_json() == {"items": []}


def test_own_parts_results_carry_the_number_and_no_name(client, pnc, health):
    created = open_case(client, pnc, consent={"share_with_network": False})
    joined = open_case(client, health, consent={"share_with_network": False})
    assert joined["id"] == created["id"] and joined["access"] == "own_parts"
    items = search(client, health, name_like="Maria Lopes")
    assert [(i["id"], i["number"], i["access"], i["name"]) for i in items] == [
        (created["id"], created["number"], "own_parts", None)
    ]
    assert "María" not in str(items) and "López" not in str(items)


def test_an_exact_name_search_still_answers_exact_summaries(client, pnc):
    created = open_case(client, pnc)
    response = client.post(
        "/api/v1/cases/search",
        json={"name": "María López", "birth_date": "1994-03-15"},
        headers=pnc.headers,
    )
    assert response.get_json() == {"items": []}  # not her full name: no exact match
    exact = client.post(
        "/api/v1/cases/search",
        json={"name": FULL_NAME, "birth_date": "1994-03-15"},
        headers=pnc.headers,
    ).get_json()["items"]
    assert [set(item) for item in exact] == [{"id", "number", "status", "created_at"}]
    assert exact[0]["id"] == created["id"]


# ---- phone ------------------------------------------------------------------------------


def test_a_phone_finds_her_however_it_is_written(client, pnc, outsider):
    created = open_case(client, pnc)  # phone 7777-1234
    for typed in ("7777-1234", "+503 7777 1234", "77771234"):
        items = search(client, pnc, phone=typed)
        assert [i["id"] for i in items] == [created["id"]], typed
        assert items[0]["reasons"] == ["phone"] and items[0]["name"] == FULL_NAME
    assert search(client, pnc, phone="7777-4321") == []
    assert search(client, outsider, phone="7777-1234") == []


# ---- bad input, audit, the database ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name_like": ""}, "name_like"),
        ({"name_like": "   "}, "name_like"),
        ({"name_like": "de la"}, "name_like"),
        ({"birth_year": 1994}, "name_like"),
        ({"name_like": "Lopez", "birth_year": 1800}, "birth_year"),
        ({"name_like": "Lopez", "birth_year": "1994"}, "birth_year"),
        ({"name_like": "Lopez", "dui": "12345678-4"}, "_schema"),
        ({"phone": "12"}, "phone"),
        ({"phone": ""}, "phone"),
    ],
)
def test_bad_fuzzy_bodies_are_422_naming_the_field(client, pnc, body, field):
    response = client.post("/api/v1/cases/search", json=body, headers=pnc.headers)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["fields"]) == {field}


def test_a_search_is_audited_with_its_count_and_never_what_was_typed(app, client, pnc):
    open_case(client, pnc)
    search(client, pnc, name_like="Maria Lopes")
    search(client, pnc, phone="7777-1234")
    search(client, pnc, name_like="Zuleima")
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "case_search").order_by(AuditEvent.id)
        ).scalars()
        details = [(row.detail, row.object_id, row.reason) for row in rows]
    assert details == [
        ("results=1", None, None),
        ("results=1", None, None),
        ("results=0", None, None),
    ]


def test_name_tokens_are_keyed_and_follow_her_name(app, client, pnc):
    created = open_case(client, pnc)
    ring = app.extensions["ruta.keyring"]
    with app.app_context():
        tokens = set(db.session.execute(select(SurvivorNameToken.token)).scalars())
        phone_bidx = db.session.execute(select(Survivor.phone_bidx)).scalar_one()
    assert tokens == {token_of(ring.index_key, code) for code in name_codes(FULL_NAME)}
    for code in name_codes(FULL_NAME):  # no code in clear
        assert code not in tokens
    assert phone_bidx and "7777" not in phone_bidx
    assert created["id"]


def test_the_reindex_command_rebuilds_tokens_and_phone_indexes(app: Flask, client, pnc):
    created = open_case(client, pnc)
    with app.app_context():
        db.session.execute(delete(SurvivorNameToken))
        db.session.execute(update(Survivor).values(phone_bidx=None))
        db.session.commit()
    assert search(client, pnc, name_like="Lopez") == []
    assert search(client, pnc, phone="7777-1234") == []
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert "done: 1 survivors indexed" in result.output
    assert [i["id"] for i in search(client, pnc, name_like="Lopez")] == [created["id"]]
    assert [i["id"] for i in search(client, pnc, phone="7777-1234")] == [created["id"]]
    assert uuid.UUID(created["id"])


# ---- the search page --------------------------------------------------------------------


def test_the_search_page_finds_a_misspelt_name_and_shows_it_to_a_full_party(
    app, client, pnc, health
):
    created = open_case(client, pnc, consent={"share_with_network": False})
    assert open_case(client, health, consent={"share_with_network": False})["access"] == (
        "own_parts"
    )
    start_web_session(app, client, pnc.username)
    page = post_form(client, "/cases/search", {"name_like": "Maria Lopes"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert created["number"] in html and FULL_NAME in html
    assert 'value="Maria Lopes"' in html  # what was typed stays in the form
    # An own_parts party sees the number and no name.
    other = app.test_client()
    start_web_session(app, other, health.username)
    html = post_form(other, "/cases/search", {"name_like": "Maria Lopes"}).get_data(as_text=True)
    assert created["number"] in html and FULL_NAME not in html and "López" not in html


def test_the_search_page_finds_by_phone(app, client, pnc):
    created = open_case(client, pnc)
    start_web_session(app, client, pnc.username)
    html = post_form(client, "/cases/search", {"phone": "+503 7777 1234"}).get_data(as_text=True)
    assert created["number"] in html


@pytest.mark.parametrize("tokens_first", [True, False])
def test_both_plans_of_the_candidate_query_find_the_same_cases(
    app, client, pnc, health, outsider, monkeypatch, tokens_first
):
    from app.auth.caller import Caller
    from app.auth.models import User
    from app.cases import access

    mine = [
        open_case(client, pnc, dui=None, given_names=given, family_names=family)["id"]
        for given, family in (("María", "López"), ("Rosa", "López Ayala"), ("Ana", "Pérez"))
    ]
    open_case(client, outsider, dui=None, given_names="María", family_names="Lopes")
    open_case(client, health, dui=None, given_names="Lucía", family_names="López")
    ring = app.extensions["ruta.keyring"]
    tokens = [token_of(ring.index_key, code) for code in name_codes("Maria Lopez")]
    monkeypatch.setattr(access, "_tokens_outnumber_visible", lambda *_: not tokens_first)
    with app.app_context():
        caller = Caller(db.session.get(User, pnc.id), None, "api")
        found = access.visible_name_candidates(db.session, caller, tokens, limit=200)
    assert found[0] == (uuid.UUID(mine[0]), 2)
    assert sorted(found[1:]) == [(uuid.UUID(mine[1]), 1)]


def test_a_partial_name_in_a_url_is_refused_and_never_searched(client, pnc):
    open_case(client, pnc)
    refused = client.get("/api/v1/cases", query_string={"name_like": "Lopez"}, headers=pnc.headers)
    assert refused.status_code == 400 and refused.get_json()["error"] == "identifier_in_url"
    assert "Lopez" not in refused.get_data(as_text=True)
    dup = client.post(
        "/api/v1/cases/duplicates?phone=77771234", json={"phone": "1"}, headers=pnc.headers
    )
    assert dup.status_code == 400


def test_searches_count_against_the_hourly_read_cap(app, client, pnc):
    open_case(client, pnc)
    app.config["RUTA_CASE_READS_PER_HOUR"] = 3
    answers = [
        client.post("/api/v1/cases/search", json=body, headers=pnc.headers).status_code
        for body in ({"name_like": "Lopez"}, {"phone": "77771234"}, {"dui": "12345678-4"})
    ]
    assert answers == [200, 200, 200]
    refused = client.post(
        "/api/v1/cases/duplicates", json={"given_names": "Maria"}, headers=pnc.headers
    )
    assert refused.status_code == 429
