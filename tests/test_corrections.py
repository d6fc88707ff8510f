"""Corrections with history (issue 11, item 4): her identity and contact, incidents and
complaints are corrected with a reason and the version read; the blind indexes follow;
the old and new values are kept sealed and shown only to a view of the whole record; an
incident entered in error is voided, kept, and no longer counted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case, Survivor
from app.cases.record_models import Correction
from app.extensions import db
from app.notifications.models import Notification
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import OTHER_DUI, VALID_DUI, incident, intake
from tests.report_helpers import get_stats

API = "/api/v1"
NEW_PHONE = "7999-5555"
# A joining desk without her consent to share given there: own_parts, nothing revoked.
ONLY_HERE = {"police": True}
REASON = "Se anotó mal en el primer ingreso"


def open_case(client, person, consent=None, **survivor: Any) -> str:
    body = intake(survivor_overrides=survivor, consent=consent)
    response = client.post(f"{API}/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def record(client, person, case_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def correct(client, person, case_id: str, version: int | None = None, **changes: Any):
    if version is None:
        version = record(client, person, case_id)["survivor"]["version"]
    body = {"reason": REASON, "version": version, **changes}
    return client.patch(f"{API}/cases/{case_id}/survivor", json=body, headers=person.headers)


def found(client, person, **key: str) -> list[str]:
    response = client.post(f"{API}/cases/search", json=key, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


# ---- her identity: the blind indexes follow ---------------------------------------------


def test_a_corrected_name_is_found_by_its_new_spelling_and_no_longer_by_the_old(client, pnc):
    case_id = open_case(client, pnc, dui=None, family_names="Lopes Ernandes")
    old = {"name": "María José Lopes Ernandes", "birth_date": "1994-03-15"}
    assert found(client, pnc, **old) == [case_id]
    answer = correct(client, pnc, case_id, family_names="López Hernández")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["fields"] == ["family_names"]
    assert found(client, pnc, name="María José López Hernández", birth_date="1994-03-15") == [
        case_id
    ]
    assert found(client, pnc, **old) == []


def test_a_corrected_birth_date_moves_the_name_index_and_her_age(app, client, pnc):
    case_id = open_case(client, pnc, dui=None)
    assert correct(client, pnc, case_id, birth_date="2012-03-15").status_code == 200
    name = "María José López Hernández"
    assert found(client, pnc, name=name, birth_date="2012-03-15") == [case_id]
    assert found(client, pnc, name=name, birth_date="1994-03-15") == []
    corrected = record(client, pnc, case_id)
    assert corrected["mandatory_report"] is True  # a minor now: the report does not wait
    with app.app_context():
        survivor = db.session.execute(
            select(Survivor).join(Case).where(Case.id == uuid.UUID(case_id))
        ).scalar_one()
        assert survivor.birth_year == 2012


def test_a_birth_date_after_one_of_her_incidents_is_refused(client, pnc):
    case_id = open_case(client, pnc)
    answer = correct(client, pnc, case_id, birth_date="2026-11-01")  # the incident: 2026-10-30
    assert answer.status_code == 422
    assert "birth_date" in answer.get_json()["fields"]


def test_a_corrected_dui_is_found_and_the_old_one_no_longer(client, pnc):
    case_id = open_case(client, pnc)
    assert found(client, pnc, dui=VALID_DUI) == [case_id]
    assert correct(client, pnc, case_id, dui="045678911").status_code == 200
    assert found(client, pnc, dui=OTHER_DUI) == [case_id]
    assert found(client, pnc, dui=VALID_DUI) == []
    assert record(client, pnc, case_id)["survivor"]["dui"] == OTHER_DUI  # written as intake does


def test_a_corrected_phone_is_found_and_the_old_one_no_longer(client, pnc):
    case_id = open_case(client, pnc)
    assert found(client, pnc, phone="7777-1234") == [case_id]
    assert correct(client, pnc, case_id, phone=NEW_PHONE).status_code == 200
    assert found(client, pnc, phone="+503 7999 5555") == [case_id]
    assert found(client, pnc, phone="7777-1234") == []


def test_a_corrected_name_is_found_by_a_partial_name_in_its_new_spelling(client, pnc):
    case_id = open_case(client, pnc, dui=None, family_names="Quintanilla Grijalva")
    assert correct(client, pnc, case_id, family_names="Menjívar Grijalva").status_code == 200
    assert case_id in found(client, pnc, name_like="Menjivar")
    assert case_id not in found(client, pnc, name_like="Quintanilla")


def test_intake_after_a_name_correction_joins_her_record_under_the_new_name(client, pnc, health):
    case_id = open_case(client, pnc, dui=None, given_names="Maria Jose")
    assert correct(client, pnc, case_id, given_names="Marisol").status_code == 200
    again = client.post(
        f"{API}/cases",
        json=intake(survivor_overrides={"dui": None, "given_names": "Marisol"}),
        headers=health.headers,
    )
    assert again.status_code == 201 and again.get_json()["id"] == case_id


def test_a_dui_correction_onto_another_survivors_dui_is_an_identity_conflict(
    app, client, pnc, supervisor
):
    other = open_case(client, pnc, dui=OTHER_DUI, given_names="Otra", birth_date="1980-01-01")
    case_id = open_case(client, pnc)
    answer = correct(client, pnc, case_id, dui=OTHER_DUI)
    assert answer.status_code == 409 and answer.get_json()["error"] == "identity_conflict"
    assert "Otra" not in answer.get_data(as_text=True)
    assert record(client, pnc, case_id)["survivor"]["dui"] == VALID_DUI  # nothing stored
    assert record(client, pnc, case_id)["corrections"] == []
    with app.app_context():
        told = db.session.execute(
            select(Notification.case_id).where(Notification.kind == "identity_conflict")
        ).scalars()
        assert uuid.UUID(other) in set(told)


def test_a_dui_of_another_record_of_the_same_woman_is_refused_for_a_merge(client, pnc, health):
    first = open_case(client, pnc, dui=OTHER_DUI, given_names="Ana")
    second = open_case(client, health, dui=None, given_names="Anita")
    answer = correct(client, health, second, dui=OTHER_DUI)
    assert answer.status_code == 409 and answer.get_json()["error"] == "identity_conflict"
    assert "unir los expedientes" in answer.get_json()["message"]
    assert found(client, pnc, dui=OTHER_DUI) == [first]


# ---- versions, reasons, who may ---------------------------------------------------------


def test_a_stale_correction_is_409_and_changes_nothing(client, pnc, womens):
    case_id = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=womens.headers)  # she joins (full)
    read = record(client, womens, case_id)["survivor"]["version"]
    assert correct(client, pnc, case_id, address="Barrio El Ángel, casa 2").status_code == 200
    stale = correct(client, womens, case_id, version=read, phone=NEW_PHONE)
    assert stale.status_code == 409 and stale.get_json()["error"] == "conflict"
    after = record(client, womens, case_id)
    assert after["survivor"]["phone"] == "7777-1234"
    assert after["survivor"]["version"] == read + 1
    assert [c["fields"] for c in after["corrections"]] == [["address"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": NEW_PHONE, "version": 1}, "reason"),
        ({"phone": NEW_PHONE, "version": 1, "reason": "   "}, "reason"),
        ({"phone": NEW_PHONE, "reason": REASON}, "version"),
        ({"dui": "12345678-0", "version": 1, "reason": REASON}, "dui"),
        ({"given_names": "", "version": 1, "reason": REASON}, "given_names"),
    ],
)
def test_a_correction_needs_a_reason_a_version_and_valid_values(client, pnc, body, field):
    case_id = open_case(client, pnc)
    answer = client.patch(f"{API}/cases/{case_id}/survivor", json=body, headers=pnc.headers)
    assert answer.status_code == 422 and field in answer.get_json()["fields"]


def test_a_correction_that_changes_nothing_is_422(client, pnc):
    case_id = open_case(client, pnc)
    answer = correct(client, pnc, case_id, phone="7777-1234", given_names="María  José")
    assert answer.status_code == 422
    assert record(client, pnc, case_id)["corrections"] == []


def test_only_a_party_with_the_whole_record_corrects_her_identity(client, pnc, health, make_person):
    case_id = open_case(client, pnc)
    # Health joins without her consent given at its desk: own_parts.
    joined = client.post(f"{API}/cases", json=intake(consent=ONLY_HERE), headers=health.headers)
    assert joined.get_json()["access"] == "own_parts"
    assert correct(client, health, case_id, version=1, phone=NEW_PHONE).status_code == 403
    outsider = make_person("health_staff", "US-ACA")
    assert correct(client, outsider, case_id, version=1, phone=NEW_PHONE).status_code == 404


# ---- the history: who, when, why, old and new values -----------------------------------


def test_corrections_show_old_and_new_values_to_a_full_party_and_nothing_to_own_parts(
    client, pnc, health
):
    case_id = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(consent=ONLY_HERE), headers=health.headers)
    assert correct(client, pnc, case_id, phone=NEW_PHONE, address=None).status_code == 200
    history = record(client, pnc, case_id)["corrections"]
    assert len(history) == 1
    entry = history[0]
    assert entry["object_type"] == "survivor" and entry["fields"] == ["phone", "address"]
    assert entry["changes"] == {
        "phone": ["7777-1234", NEW_PHONE],
        "address": ["Colonia Las Palmeras, pasaje 3, casa 14", None],
    }
    assert entry["reason"] == REASON and entry["institution"] == "PNC-SON"
    assert entry["user"] == pnc.username and entry["at"]
    own = client.get(f"{API}/cases/{case_id}", headers=health.headers).get_json()
    assert own["access"] == "own_parts" and own["corrections"] == []
    assert NEW_PHONE not in str(own)


def test_a_supervisor_without_break_glass_sees_no_corrections(client, pnc, supervisor):
    case_id = open_case(client, pnc)
    assert correct(client, pnc, case_id, phone=NEW_PHONE).status_code == 200
    seen = client.get(f"{API}/cases/{case_id}", headers=supervisor.headers).get_json()
    assert seen["access"] == "metadata" and "corrections" not in seen
    assert NEW_PHONE not in str(seen)


def test_a_correction_is_sealed_and_audited_by_field_names_only(app, client, pnc):
    case_id = open_case(client, pnc)
    assert correct(client, pnc, case_id, phone=NEW_PHONE).status_code == 200
    with app.app_context():
        row = db.session.execute(select(Correction)).scalar_one()
        assert row.fields == "phone" and row.user_id == pnc.id
        for blob in (row.changes_enc, row.reason_enc):
            assert NEW_PHONE.encode() not in blob and b"7777" not in blob
            assert REASON.encode() not in blob
        survivor = db.session.execute(select(Survivor)).scalar_one()
        assert NEW_PHONE.encode() not in (survivor.phone_enc or b"")
        events = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.case_id == uuid.UUID(case_id), AuditEvent.action == "case_update"
            )
        ).scalars()
        details = [(e.object_type, e.detail) for e in events]
    assert ("survivor", "correction:phone") in details
    assert not any(NEW_PHONE in (detail or "") for _, detail in details)


# ---- incidents: corrected, voided, never deleted ----------------------------------------


def first_incident(client, person, case_id: str) -> dict[str, Any]:
    return record(client, person, case_id)["incidents"][0]


def patch_incident(client, person, case_id: str, incident: dict[str, Any], **changes: Any):
    body = {"reason": REASON, "version": incident["version"], **changes}
    return client.patch(
        f"{API}/cases/{case_id}/incidents/{incident['id']}", json=body, headers=person.headers
    )


def count_of(client, person, code: str) -> Any:
    """The October 2026 count of one violence type (0 when nothing is counted)."""
    period = {"from": "2026-10-01", "to": "2026-10-31", "by": "violence_type"}
    rows = get_stats(client, person, **period)["rows"]
    return next((row["total"] for row in rows if row["key"] == code), 0)


def test_a_corrected_incident_is_counted_as_corrected(client, pnc):
    case_id = open_case(client, pnc)
    assert count_of(client, pnc, "physical") != 0 and count_of(client, pnc, "sexual") == 0
    item = first_incident(client, pnc, case_id)
    answer = patch_incident(
        client, pnc, case_id, item, violence_types=["sexual"], penetration=True, narrative="Otro"
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["fields"] == ["violence_types", "penetration", "narrative"]
    assert count_of(client, pnc, "physical") == 0 and count_of(client, pnc, "sexual") != 0
    after = first_incident(client, pnc, case_id)
    assert after["violence_types"] == ["sexual"] and after["gbvims_type"] == "rape"
    assert after["narrative"] == "Otro" and after["version"] == item["version"] + 1
    history = record(client, pnc, case_id)["corrections"]
    assert history[0]["object_type"] == "incident"
    assert history[0]["changes"]["violence_types"] == [["physical", "psychological"], ["sexual"]]


def test_a_stale_incident_correction_is_409(client, pnc):
    case_id = open_case(client, pnc)
    item = first_incident(client, pnc, case_id)
    assert patch_incident(client, pnc, case_id, item, place_type="street").status_code == 200
    stale = patch_incident(client, pnc, case_id, item, place_type="workplace")
    assert stale.status_code == 409
    assert first_incident(client, pnc, case_id)["place_type"] == "street"


def test_an_incident_is_checked_again_when_corrected(client, pnc):
    case_id = open_case(client, pnc)
    item = first_incident(client, pnc, case_id)
    before_birth = patch_incident(client, pnc, case_id, item, occurred_on="1990-01-01")
    assert before_birth.status_code == 422 and "occurred_on" in before_birth.get_json()["fields"]
    not_sexual = patch_incident(client, pnc, case_id, item, penetration=True)
    assert not_sexual.status_code == 422 and "penetration" in not_sexual.get_json()["fields"]


def test_an_own_parts_party_corrects_only_the_incidents_it_recorded(client, pnc, health):
    case_id = open_case(client, pnc)
    client.post(
        f"{API}/cases",
        json=intake(incident_overrides={"occurred_on": "2026-10-01"}, consent=ONLY_HERE),
        headers=health.headers,
    )
    own = record(client, health, case_id)["incidents"]
    assert [i["entry_institution"] for i in own] == ["US-SON"]
    assert patch_incident(client, health, case_id, own[0], place_type="street").status_code == 200
    pncs = next(
        i for i in record(client, pnc, case_id)["incidents"] if i["entry_institution"] == "PNC-SON"
    )
    assert patch_incident(client, health, case_id, pncs, place_type="street").status_code == 404


def void(client, person, case_id: str, incident_id: str, reason: str = "Registrado dos veces"):
    return client.post(
        f"{API}/cases/{case_id}/incidents/{incident_id}/void",
        json={"reason": reason},
        headers=person.headers,
    )


def test_a_voided_incident_is_kept_marked_and_no_longer_counted(client, pnc):
    case_id = open_case(client, pnc)
    twice = client.post(
        f"{API}/cases/{case_id}/incidents",
        json=incident(occurred_on="2026-10-12", violence_types=["economic"]),
        headers=pnc.headers,
    )
    assert twice.status_code == 201
    assert count_of(client, pnc, "economic") != 0
    answer = void(client, pnc, case_id, twice.get_json()["id"])
    assert answer.status_code == 200 and answer.get_json()["voided"] is True
    assert count_of(client, pnc, "economic") == 0
    assert count_of(client, pnc, "physical") != 0  # the other incident still counts
    kept = {i["id"]: i for i in record(client, pnc, case_id)["incidents"]}
    voided = kept[twice.get_json()["id"]]
    assert voided["voided"] is True and voided["void_reason"] == "Registrado dos veces"
    assert len(kept) == 2  # never deleted
    again = void(client, pnc, case_id, voided["id"])
    assert again.status_code == 409
    corrected = patch_incident(client, pnc, case_id, voided, place_type="street")
    assert corrected.status_code == 409


def test_the_last_incident_in_force_cannot_be_voided(client, pnc):
    case_id = open_case(client, pnc)
    only = first_incident(client, pnc, case_id)
    answer = void(client, pnc, case_id, only["id"])
    assert answer.status_code == 422
    assert "ciérrelo" in str(answer.get_json()["fields"])
    assert first_incident(client, pnc, case_id)["voided"] is False


def test_voiding_needs_a_reason(client, pnc):
    case_id = open_case(client, pnc)
    answer = void(client, pnc, case_id, first_incident(client, pnc, case_id)["id"], reason=" ")
    assert answer.status_code == 422 and "reason" in answer.get_json()["fields"]


def test_a_voided_incident_is_out_of_the_exports(client, pnc, supervisor):
    case_id = open_case(client, pnc)
    second = client.post(
        f"{API}/cases/{case_id}/incidents",
        json=incident(occurred_on="2026-10-12"),
        headers=pnc.headers,
    ).get_json()["id"]
    export = {"from": "2026-10-01", "to": "2026-10-31"}

    def exported() -> int:
        response = client.get(
            f"{API}/exports/incidents.csv", query_string=export, headers=supervisor.headers
        )
        assert response.status_code == 200
        return len(response.get_data(as_text=True).strip().splitlines()) - 2  # two headers

    assert exported() == 2
    assert void(client, pnc, case_id, second).status_code == 200
    assert exported() == 1


# ---- complaints -------------------------------------------------------------------------


def test_the_institution_that_filed_a_complaint_corrects_it(client, pnc, health, make_person):
    case_id = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=health.headers)
    filed = client.post(
        f"{API}/cases/{case_id}/complaints", json={"number": "DEN-1"}, headers=pnc.headers
    ).get_json()
    url = f"{API}/cases/{case_id}/complaints/{filed['id']}"
    body = {"number": "DEN-SON-2026-0042", "reason": "Número mal copiado", "version": 1}
    assert client.patch(url, json=body, headers=health.headers).status_code == 403
    other_unit = make_person("pnc_agent", "PNC-ACA")
    assert client.patch(url, json=body, headers=other_unit.headers).status_code == 404
    answer = client.patch(url, json=body, headers=pnc.headers)
    assert answer.status_code == 200 and answer.get_json()["fields"] == ["number"]
    assert client.patch(url, json=body, headers=pnc.headers).status_code == 409  # stale
    shown = record(client, pnc, case_id)
    assert shown["complaints"][0]["number"] == "DEN-SON-2026-0042"
    assert shown["corrections"][0]["changes"] == {"number": ["DEN-1", "DEN-SON-2026-0042"]}


# ---- the pages --------------------------------------------------------------------------


def page_token(client, path: str) -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def survivor_form(**overrides: str) -> dict[str, str]:
    form = {
        "fix-given_names": "María José",
        "fix-family_names": "López Hernández",
        "fix-dui": VALID_DUI,
        "fix-birth_date": "1994-03-15",
        "fix-sex": "F",
        "fix-municipality": "sonsonate",
        "fix-phone": "7777-1234",
        "fix-address": "Colonia Las Palmeras, pasaje 3, casa 14",
        "fix-safe_contact": "",
        "fix-reason": REASON,
        "fix-version": "1",
    }
    form.update({f"fix-{name}": value for name, value in overrides.items()})
    return form


def test_the_case_page_corrects_her_phone_and_shows_the_history(app, client, pnc):
    case_id = open_case(client, pnc)
    start_web_session(app, client, pnc.username)
    page = f"/cases/{case_id}"
    assert "Corregir datos" in client.get(page).get_data(as_text=True)
    shown = client.get(f"{page}/forms/identidad").get_data(as_text=True)
    assert 'value="7777-1234"' in shown
    answer = client.post(
        f"{page}/survivor",
        data={**survivor_form(phone=NEW_PHONE), "csrf_token": page_token(client, page)},
    )
    assert answer.status_code == 303
    shown = client.get(page).get_data(as_text=True)
    assert "Datos corregidos" in shown and NEW_PHONE in shown
    assert "Correcciones" in shown and "7777-1234" in shown  # the old value, in the history
    assert record(client, pnc, case_id)["survivor"]["phone"] == NEW_PHONE


def test_a_correction_without_reason_comes_back_with_what_was_typed(app, client, pnc):
    case_id = open_case(client, pnc)
    start_web_session(app, client, pnc.username)
    page = f"/cases/{case_id}"
    form = {**survivor_form(phone=NEW_PHONE, reason=""), "csrf_token": page_token(client, page)}
    answer = client.post(f"{page}/survivor", data=form)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("#identidad")
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Explique por qué se corrige." in html
    assert f'value="{NEW_PHONE}"' in html  # what she typed, kept
    assert record(client, pnc, case_id)["survivor"]["phone"] == "7777-1234"


def test_a_stale_page_correction_is_shown_in_place(app, client, pnc):
    case_id = open_case(client, pnc)
    assert correct(client, pnc, case_id, address="Otra dirección").status_code == 200
    start_web_session(app, client, pnc.username)
    page = f"/cases/{case_id}"
    form = {**survivor_form(phone=NEW_PHONE), "csrf_token": page_token(client, page)}
    answer = client.post(f"{page}/survivor", data=form)  # version 1: read before the change
    assert answer.status_code == 303
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Alguien cambió este registro" in html and f'value="{NEW_PHONE}"' in html


def test_the_incident_page_corrects_an_incident(app, client, pnc):
    case_id = open_case(client, pnc)
    item = first_incident(client, pnc, case_id)
    start_web_session(app, client, pnc.username)
    path = f"/cases/{case_id}/incidents/{item['id']}/edit"
    shown = client.get(path)
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "Relato confidencial" in html and 'value="2026-10-30"' in html
    form = {
        "occurred_on": "2026-10-29",
        "incident_municipality": "sonsonate",
        "place_type": "home",
        "perpetrator_relationship": "partner",
        "violence_types": ["physical", "psychological"],
        "narrative": item["narrative"],
        "version": str(item["version"]),
        "csrf_token": csrf_token(html),
    }
    missing = client.post(path, data={**form, "reason": ""})
    assert missing.status_code == 303 and missing.headers["Location"].endswith(path)
    assert 'value="2026-10-29"' in client.get(path).get_data(as_text=True)
    saved = client.post(path, data={**form, "reason": "La fecha era el día anterior"})
    assert saved.status_code == 303
    assert first_incident(client, pnc, case_id)["occurred_on"] == "2026-10-29"
    history = record(client, pnc, case_id)["corrections"]
    assert [c["fields"] for c in history] == [["occurred_on"]]


def test_the_case_page_voids_an_incident_and_shows_it_anulado(app, client, pnc):
    case_id = open_case(client, pnc)
    second = client.post(
        f"{API}/cases/{case_id}/incidents",
        json=incident(occurred_on="2026-10-12"),
        headers=pnc.headers,
    ).get_json()["id"]
    start_web_session(app, client, pnc.username)
    page = f"/cases/{case_id}"
    empty = client.post(
        f"{page}/incidents/{second}/void",
        data={"reason": "", "csrf_token": page_token(client, page)},
    )
    assert empty.status_code == 303
    shown = client.get(empty.headers["Location"]).get_data(as_text=True)
    assert f'id="void-{second}-error"' in shown  # next to its form
    answer = client.post(
        f"{page}/incidents/{second}/void",
        data={"reason": "Se registró dos veces", "csrf_token": page_token(client, page)},
    )
    assert answer.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "anulado" in html and "Se registró dos veces" in html
