"""Her access needs (issue 14, item 4): language, interpreter, literacy, disability and
adjustments, her people and nationality — sealed, validated, versioned, in the history;
printed on the sheet and shown in the inbox so that a receiver books an interpreter
before she comes. A live receiver not yet serving her reads only what it needs to prepare;
an own_parts party and a former party read none."""

from __future__ import annotations

from tests.auth_helpers import csrf_token
from tests.factories import intake
from tests.test_database_plaintext import database_bytes, leaked
from tests.test_referral_inbox import API, institution_id, move, open_case, refer, web
from tests.test_safe_contact import survivor_version, text_of

ADJUSTMENTS = "Intérprete de náhuat de Santo Domingo de Guzmán; leerle cada documento"
NEEDS = {
    "language": "nah",
    "interpreter_needed": True,
    "literacy": "does_not_read",
    "disability": ["hearing"],
    "adjustments": ADJUSTMENTS,
    "indigenous_people": "nahua_pipil",
    "nationality": "Salvadoreña-Zanzíbar",  # distinctive, to look for in the database
}


def put_needs(client, person, case_id: str, version: int | None = None, **changes):
    body = {**NEEDS, **changes}
    body["version"] = version if version is not None else survivor_version(client, person, case_id)
    return client.put(f"{API}/cases/{case_id}/access-needs", json=body, headers=person.headers)


def needs_of(client, person, case_id: str) -> dict:
    return client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()["survivor"][
        "access_needs"
    ]


def inbox_row(client, person, referral: str) -> dict:
    items = client.get(f"{API}/referrals", headers=person.headers).get_json()["items"]
    return next(item for item in items if item["id"] == referral)


# ---- the API ---------------------------------------------------------------------------


def test_her_needs_are_kept_sealed_and_summarised_in_plain_spanish(app, client, pnc):
    case_id = open_case(client, pnc)
    response = put_needs(client, pnc, case_id)
    assert response.status_code == 200, response.get_json()
    needs = needs_of(client, pnc, case_id)
    assert {k: needs[k] for k in NEEDS} == NEEDS and needs["language_other"] is None
    assert needs["summary"][:3] == [
        "Idioma: Náhuat-Pipil",
        "NECESITA INTÉRPRETE",
        "Discapacidad: Auditiva",
    ]
    assert "Pueblo: Nahua-Pipil" in needs["summary"]
    assert leaked(database_bytes(app), {ADJUSTMENTS, "Salvadoreña-Zanzíbar"}) == []


def test_her_needs_can_be_given_at_intake(client, pnc):
    body = intake({"access_needs": {"language": "lessa", "interpreter_needed": True}})
    case_id = client.post(f"{API}/cases", json=body, headers=pnc.headers).get_json()["id"]
    needs = needs_of(client, pnc, case_id)
    assert needs["language"] == "lessa" and needs["interpreter_needed"] is True
    assert needs["disability"] == []


def test_invalid_needs_are_refused_with_their_fields(client, pnc):
    case_id = open_case(client, pnc)
    response = put_needs(client, pnc, case_id, language="klingon", literacy="some")
    assert response.status_code == 422
    assert {"language", "literacy"} <= set(response.get_json()["fields"])
    response = put_needs(client, pnc, case_id, language="other")
    assert response.status_code == 422 and "language_other" in response.get_json()["fields"]
    response = put_needs(client, pnc, case_id, disability=["none", "visual"])
    assert response.status_code == 422 and "disability" in response.get_json()["fields"]
    response = put_needs(client, pnc, case_id, indigenous_people="maya")
    assert response.status_code == 422 and "indigenous_people" in response.get_json()["fields"]


def test_a_stale_version_is_refused_and_the_change_is_in_the_history(client, pnc):
    case_id = open_case(client, pnc)
    version = survivor_version(client, pnc, case_id)
    assert put_needs(client, pnc, case_id, version).status_code == 200
    assert put_needs(client, pnc, case_id, version, language="es").status_code == 409
    assert needs_of(client, pnc, case_id)["language"] == "nah"
    record = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()
    (entry,) = [c for c in record["corrections"] if c["fields"] == ["access_needs"]]
    old, new = entry["changes"]["access_needs"]
    assert old["language"] is None and new["language"] == "nah"


def test_nothing_changed_is_refused(client, pnc):
    case_id = open_case(client, pnc)
    assert put_needs(client, pnc, case_id).status_code == 200
    assert put_needs(client, pnc, case_id).status_code == 422


# ---- who reads them on a referral ------------------------------------------------------


def test_a_live_receiver_reads_what_it_needs_to_prepare_before_accepting(app, client, pnc, health):
    case_id = open_case(client, pnc)
    assert put_needs(client, pnc, case_id).status_code == 200
    referral = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    row = inbox_row(client, health, referral)
    needs = row["access_needs"]
    assert needs["language"] == "nah" and needs["interpreter_needed"] is True
    assert needs["adjustments"] == ADJUSTMENTS and needs["disability"] == ["hearing"]
    # Her people, nationality and literacy wait until it serves her.
    assert needs["indigenous_people"] is None and needs["nationality"] is None
    assert needs["literacy"] is None
    assert row["contact_rules"] is None and row["survivor_name"] is None
    browser = web(app, health)
    for path in ("/referrals", f"/referrals/{referral}", f"/referrals/{referral}/sheet"):
        text = text_of(browser.get(path).get_data(as_text=True))
        assert "NECESITA INTÉRPRETE" in text and "Idioma: Náhuat-Pipil" in text, path
        assert "Nahua-Pipil" not in text.replace("Náhuat-Pipil", ""), path
        assert "Salvadoreña-Zanzíbar" not in text, path
    # Once it accepts, it serves her: all of them.
    assert move(client, health, referral, "accept").status_code == 200
    assert inbox_row(client, health, referral)["access_needs"]["nationality"] == (
        "Salvadoreña-Zanzíbar"
    )
    sheet = text_of(browser.get(f"/referrals/{referral}/sheet").get_data(as_text=True))
    assert "Pueblo: Nahua-Pipil" in sheet and "Lectura: No lee" in sheet


def test_a_former_party_and_an_own_parts_party_read_no_needs(app, client, pnc, health, womens):
    case_id = open_case(client, pnc)
    assert put_needs(client, pnc, case_id).status_code == 200
    declined = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    assert move(client, health, declined, "decline", note="Sin cupo").status_code == 200
    assert inbox_row(client, health, declined)["access_needs"] is None
    assert (
        client.get(f"{API}/referrals/{declined}", headers=health.headers).get_json()["access_needs"]
        is None
    )
    assert web(app, health).get(f"/referrals/{declined}/sheet").status_code == 404
    joined = client.post(
        f"{API}/cases", json=intake(consent={"statistics": True}), headers=womens.headers
    )
    assert joined.get_json()["access"] == "own_parts"
    record = client.get(f"{API}/cases/{case_id}", headers=womens.headers)
    assert record.get_json()["survivor"] is None
    assert ADJUSTMENTS not in record.get_data(as_text=True)
    page = web(app, womens).get(f"/cases/{case_id}").get_data(as_text=True)
    assert ADJUSTMENTS not in page and "NECESITA INTÉRPRETE" not in page
    assert put_needs(client, womens, case_id, version=2).status_code in (403, 404)


# ---- the case page ---------------------------------------------------------------------


def test_the_case_page_shows_and_changes_her_needs(app, client, pnc):
    case_id = open_case(client, pnc)
    browser = web(app, pnc)
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(page),
        "an-version": str(survivor_version(client, pnc, case_id)),
        "an-language": "other",  # refused: which language?
        "an-interpreter_needed": "yes",
        "an-disability": ["visual", "physical"],
        "an-adjustments": ADJUSTMENTS,
        "an-nationality_withheld": "y",
    }
    refused = browser.post(f"/cases/{case_id}/access-needs", data=form)
    assert refused.status_code == 303
    again = browser.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Escriba qué idioma habla." in again and ADJUSTMENTS in again
    form.update({"an-language_other": "Q'eqchi'", "csrf_token": csrf_token(again)})
    assert browser.post(f"/cases/{case_id}/access-needs", data=form).status_code == 303
    needs = needs_of(client, pnc, case_id)
    assert needs["language_other"] == "Q'eqchi'" and needs["disability"] == ["visual", "physical"]
    assert needs["nationality"] == "prefers_not_to_say"
    text = text_of(browser.get(f"/cases/{case_id}").get_data(as_text=True))
    assert "Idioma: Otro idioma: Q'eqchi'" in text.replace("&#39;", "'")
    assert "Nacionalidad: Prefiere no decirlo" in text
