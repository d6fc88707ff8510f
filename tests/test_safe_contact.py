"""Her safe-contact protocol (issue 14, item 1): structured, sealed, validated, versioned
and in the history; and read before her phone or address wherever they are shown — the
case page, the API record, the referral page, the inbox and the sheet — by those who may
see her phone, and by nobody else."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from tests.auth_helpers import csrf_token
from tests.factories import intake
from tests.test_database_plaintext import database_bytes, leaked
from tests.test_referral_inbox import API, institution_id, move, open_case, refer, web

CODE_WORD = "Guayaba-Celeste-4471"
COVER = "Llamo de la clínica para confirmar su cita de vacunación"
PROTOCOL = {
    "may_call": False,
    "may_text": True,
    "may_leave_message": False,
    "may_visit": False,
    "phone_watched_by_aggressor": "yes",
    "code_word": CODE_WORD,
    "cover_story": COVER,
    "notes": "Solo por la tarde, en casa de su madre",
}
PHONE = "7777-1234"


def survivor_version(client, person, case_id: str) -> int:
    return client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()["survivor"][
        "version"
    ]


def put_protocol(client, person, case_id: str, version: int | None = None, **changes):
    body = {**PROTOCOL, **changes}
    body["version"] = version if version is not None else survivor_version(client, person, case_id)
    return client.put(f"{API}/cases/{case_id}/safe-contact", json=body, headers=person.headers)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rules_before_phone(html: str, rules_id: str) -> bool:
    """The rules' block is in the document before the first place her phone appears."""
    return html.index(f'id="{rules_id}"') < html.index(PHONE)


# ---- the API ---------------------------------------------------------------------------


def test_the_protocol_is_kept_and_the_record_answers_it_before_her_phone(client, pnc):
    case_id = open_case(client, pnc)
    response = put_protocol(client, pnc, case_id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["fields"] == ["contact_protocol"]
    raw = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_data(as_text=True)
    survivor = json.loads(raw)["survivor"]
    keys = list(survivor)
    assert keys.index("safe_contact") < keys.index("phone")
    assert keys.index("contact_rules") < keys.index("phone")
    assert raw.index('"contact_rules"') < raw.index(f'"{PHONE}"')
    protocol = survivor["safe_contact"]
    assert {k: protocol[k] for k in PROTOCOL} == PROTOCOL
    assert protocol["hides_phone"] is True
    codes = [rule["code"] for rule in survivor["contact_rules"]]
    assert codes[:5] == ["no_call", "no_message", "no_visit", "phone_watched", "code_word"]
    texts = [rule["text"] for rule in survivor["contact_rules"]]
    assert texts[0] == "NO LLAMAR" and f"palabra clave: {CODE_WORD}" in texts
    assert "no enviar mensajes de texto" not in texts  # she may be texted


def test_the_protocol_can_be_given_at_intake(client, pnc):
    body = intake(
        {"contact_protocol": {"may_call": True, "call_times": "lunes a viernes de 9 a 12"}}
    )
    case_id = client.post(f"{API}/cases", json=body, headers=pnc.headers).get_json()["id"]
    survivor = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["survivor"]
    assert survivor["safe_contact"]["call_times"] == "lunes a viernes de 9 a 12"
    assert survivor["safe_contact"]["hides_phone"] is False
    assert survivor["contact_rules"] == [
        {"code": "call_times", "text": "Llamar solo: lunes a viernes de 9 a 12"}
    ]


def test_the_free_text_safe_contact_from_before_stays_readable(client, pnc):
    old = "Llamar a su hermana Rosibel al 6123-4598"
    case_id = open_case(client, pnc, safe_contact=old)
    survivor = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["survivor"]
    assert survivor["safe_contact"]["free_text"] == old
    assert survivor["contact_rules"] == [{"code": "note", "text": old}]
    assert put_protocol(client, pnc, case_id).status_code == 200
    survivor = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["survivor"]
    assert survivor["safe_contact"]["free_text"] == old  # beside the protocol, not lost
    assert {"code": "note", "text": old} in survivor["contact_rules"]


def test_an_invalid_protocol_is_refused_with_its_fields(client, pnc):
    case_id = open_case(client, pnc)
    response = put_protocol(
        client,
        pnc,
        case_id,
        call_times="de 9 a 12",
        phone_watched_by_aggressor="maybe",
        may_visit="perhaps",
    )
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert {"phone_watched_by_aggressor", "may_visit"} <= set(fields)
    response = put_protocol(client, pnc, case_id, call_times="de 9 a 12")  # may_call is false
    assert response.status_code == 422 and "call_times" in response.get_json()["fields"]
    missing = client.put(f"{API}/cases/{case_id}/safe-contact", json=PROTOCOL, headers=pnc.headers)
    assert missing.status_code == 422 and "version" in missing.get_json()["fields"]


def test_a_stale_version_is_refused_and_changes_nothing(client, pnc):
    case_id = open_case(client, pnc)
    version = survivor_version(client, pnc, case_id)
    assert put_protocol(client, pnc, case_id, version).status_code == 200
    stale = put_protocol(client, pnc, case_id, version, code_word="Otra-Palabra")
    assert stale.status_code == 409
    survivor = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["survivor"]
    assert survivor["safe_contact"]["code_word"] == CODE_WORD


def test_a_change_is_in_the_history_sealed_and_audited_without_its_content(app, client, pnc):
    case_id = open_case(client, pnc)
    assert put_protocol(client, pnc, case_id).status_code == 200
    assert (
        put_protocol(client, pnc, case_id, may_visit=True, reason="Ya se mudó").status_code == 200
    )
    record = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()
    history = [c for c in record["corrections"] if c["fields"] == ["contact_protocol"]]
    assert len(history) == 2
    old, new = history[-1]["changes"]["contact_protocol"]
    assert old["may_visit"] is False and new["may_visit"] is True
    assert history[-1]["reason"] == "Ya se mudó"
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "case_update")
        ).scalars()
        assert "correction:contact_protocol" in set(details)
    dump = database_bytes(app)
    assert leaked(dump, {CODE_WORD, COVER, "casa de su madre"}) == []


def test_an_own_parts_party_can_neither_read_nor_change_the_protocol(client, pnc, health):
    case_id = open_case(client, pnc)
    assert put_protocol(client, pnc, case_id).status_code == 200
    joined = client.post(
        f"{API}/cases", json=intake(consent={"statistics": True}), headers=health.headers
    )
    assert joined.get_json()["access"] == "own_parts"
    record = client.get(f"{API}/cases/{case_id}", headers=health.headers)
    assert record.get_json()["survivor"] is None
    assert CODE_WORD not in record.get_data(as_text=True)
    refused = put_protocol(client, health, case_id, version=2)
    assert refused.status_code in (403, 404)
    page = web(client.application, health).get(f"/cases/{case_id}").get_data(as_text=True)
    assert CODE_WORD not in page and "NO LLAMAR" not in page


# ---- the pages -------------------------------------------------------------------------


def test_the_case_page_reads_the_rules_first_and_hides_the_phone_behind_a_disclosure(
    app, client, pnc
):
    case_id = open_case(client, pnc)
    assert put_protocol(client, pnc, case_id).status_code == 200
    html = web(app, pnc).get(f"/cases/{case_id}").get_data(as_text=True)
    assert rules_before_phone(html, "reglas-contacto")
    banner = html[html.index('id="reglas-contacto"') :]
    assert "NO LLAMAR" in text_of(banner[: banner.index("</div>")])
    disclosure = html[html.index('id="ver-telefono"') :]
    assert disclosure.index("<summary>") < disclosure.index(PHONE) < disclosure.index("</details>")


def test_a_phone_she_may_be_called_on_is_shown_plainly(app, client, pnc):
    case_id = open_case(client, pnc)
    assert (
        put_protocol(
            client, pnc, case_id, may_call=True, phone_watched_by_aggressor="no"
        ).status_code
        == 200
    )
    html = web(app, pnc).get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="ver-telefono"' not in html
    assert rules_before_phone(html, "reglas-contacto")


def test_the_case_page_form_saves_the_protocol_and_a_refusal_comes_back_in_place(app, client, pnc):
    case_id = open_case(client, pnc)
    browser = web(app, pnc)
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    version = str(survivor_version(client, pnc, case_id))
    form = {
        "csrf_token": csrf_token(page),
        "sc-version": version,
        "sc-may_call": "no",
        "sc-call_times": "martes a las 3",  # refused: she may not be called
        "sc-code_word": CODE_WORD,
    }
    refused = browser.post(f"/cases/{case_id}/safe-contact", data=form)
    assert refused.status_code == 303
    again = browser.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Si no se la puede llamar, no escriba horarios de llamada." in again
    assert CODE_WORD in again  # what she typed, kept for her to correct
    form.update({"sc-call_times": "", "csrf_token": csrf_token(again)})
    saved = browser.post(f"/cases/{case_id}/safe-contact", data=form)
    assert saved.status_code == 303
    survivor = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["survivor"]
    assert survivor["safe_contact"]["may_call"] is False
    assert survivor["safe_contact"]["code_word"] == CODE_WORD
    assert survivor["safe_contact"]["may_text"] is None  # not asked stays unknown


def test_the_intake_page_takes_the_protocol(app, pnc):
    browser = web(app, pnc)
    page = browser.get("/cases/new").get_data(as_text=True)
    assert 'name="may_call"' in page and 'name="phone_watched_by_aggressor"' in page
    assert page.index('name="may_call"') < page.index('name="occurred_on"')


# ---- the referral: its page, the inbox and the sheet -----------------------------------


def accepted_referral(client, pnc, health) -> tuple[str, str]:
    case_id = open_case(client, pnc)
    assert put_protocol(client, pnc, case_id).status_code == 200
    referral = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    assert move(client, health, referral, "accept").status_code == 200
    return case_id, referral


def test_a_receiver_who_may_see_her_phone_reads_the_rules_first(app, client, pnc, health):
    _, referral = accepted_referral(client, pnc, health)
    browser = web(app, health)
    sheet = browser.get(f"/referrals/{referral}/sheet").get_data(as_text=True)
    assert PHONE in sheet and rules_before_phone(sheet, "hoja-reglas")
    assert "NO LLAMAR" in text_of(sheet) and CODE_WORD in sheet
    page = browser.get(f"/referrals/{referral}").get_data(as_text=True)
    assert "NO LLAMAR" in text_of(page) and 'id="remision-reglas"' in page
    inbox = browser.get("/referrals").get_data(as_text=True)
    assert f'id="reglas-{referral}"' in inbox and CODE_WORD in inbox
    row = next(
        item
        for item in client.get(f"{API}/referrals", headers=health.headers).get_json()["items"]
        if item["id"] == referral
    )
    assert row["contact_rules"][0] == {"code": "no_call", "text": "NO LLAMAR"}
    one = client.get(f"{API}/referrals/{referral}", headers=health.headers).get_json()
    assert one["contact_rules"][0]["code"] == "no_call"


def test_a_receiver_not_yet_serving_her_and_a_former_party_see_no_contact_rules(
    app, client, pnc, health
):
    case_id = open_case(client, pnc)
    assert put_protocol(client, pnc, case_id).status_code == 200
    to = institution_id(client, pnc, "US-SON")
    pending = refer(client, pnc, case_id, to)
    declined = refer(client, pnc, case_id, to)
    assert move(client, health, declined, "decline", note="Sin cupo").status_code == 200
    items = client.get(f"{API}/referrals", headers=health.headers).get_json()["items"]
    for item in items:
        assert item["contact_rules"] is None
    assert (
        client.get(f"{API}/referrals/{declined}", headers=health.headers).get_json()[
            "contact_rules"
        ]
        is None
    )
    browser = web(app, health)
    assert browser.get(f"/referrals/{declined}/sheet").status_code == 404
    for path in ("/referrals", f"/referrals/{pending}", f"/referrals/{pending}/sheet"):
        html = browser.get(path).get_data(as_text=True)
        assert CODE_WORD not in html and "NO LLAMAR" not in html and PHONE not in html, path
