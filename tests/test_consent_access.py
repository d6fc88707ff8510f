"""Her record, her consent (issue 9): each hole an insider could use, tried as she would.

Every test here was written against the old access code and failed there: a DUI and an
invented name opened her record, a silent intake revoked her consent, a referral went
out after she revoked sharing, a declined receiver still printed her name.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Case, CaseParty, Survivor
from app.extensions import db
from app.notifications.models import Notification
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import OTHER_DUI, intake

API = "/api/v1"
SHARE_ALL = {"share_with_network": True, "statistics": True, "police": True}
NO_SHARING = {"share_with_network": False, "statistics": True, "police": False}


def open_case(client, person, consent=None, **survivor):
    response = client.post(
        f"{API}/cases", json=intake(survivor, consent=consent or SHARE_ALL), headers=person.headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def read(client, person, case_id):
    return client.get(f"{API}/cases/{case_id}", headers=person.headers)


def institution_ids(client, person) -> dict[str, int]:
    items = client.get(f"{API}/institutions", headers=person.headers).get_json()["items"]
    return {item["code"]: item["id"] for item in items}


def refer(client, person, case_id, to, service="medical", consent=True):
    body = {
        "to_institution": to,
        "service": service,
        "urgency": "routine",
        "reason": "Atención por lesiones",
        "consent": consent,
    }
    return client.post(f"{API}/cases/{case_id}/referrals", json=body, headers=person.headers)


def move(client, person, referral_id, action, note=None):
    return client.post(
        f"{API}/referrals/{referral_id}/transition",
        headers=person.headers,
        json={"action": action, "note": note},
    )


def actions(app, *, case_id=None, username=None) -> list[str]:
    with app.app_context():
        stmt = select(AuditEvent.action).order_by(AuditEvent.id)
        if case_id:
            stmt = stmt.where(AuditEvent.case_id == uuid.UUID(case_id))
        if username:
            stmt = stmt.where(AuditEvent.username == username)
        return list(db.session.execute(stmt).scalars())


def count(app, model) -> int:
    with app.app_context():
        return db.session.query(model).count()


# ---- matching: DUI and birth date, or name and birth date ------------------------------


def test_her_dui_with_an_invented_name_and_birth_date_opens_nothing(
    app, client, pnc, health, supervisor
):
    opened = open_case(client, pnc)
    survivors = count(app, Survivor)
    forged = intake({"given_names": "Ana", "family_names": "Pérez", "birth_date": "1990-01-01"})
    response = client.post(f"{API}/cases", json=forged, headers=health.headers)
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "identity_conflict"
    assert opened["number"] not in str(body) and opened["id"] not in str(body)
    assert count(app, Survivor) == survivors  # nothing stored
    assert read(client, health, opened["id"]).status_code == 404
    with app.app_context():
        told = (
            db.session.execute(
                select(Notification).where(
                    Notification.user_id == supervisor.id, Notification.kind == "identity_conflict"
                )
            )
            .scalars()
            .all()
        )
    assert len(told) == 1
    assert "identity_conflict" in actions(app, username=health.username)


def test_a_join_without_her_recorded_consent_sees_only_its_own_parts(app, client, pnc, health):
    opened = open_case(client, pnc, consent=NO_SHARING)
    client.put(
        f"{API}/cases/{opened['id']}/safety-plan",
        headers=pnc.headers,
        json={"plan": "Casa de la hermana en Izalco"},
    )
    joined = client.post(f"{API}/cases", json=intake(consent=SHARE_ALL), headers=health.headers)
    assert joined.status_code == 201
    assert joined.get_json()["matched_existing"] is True
    assert joined.get_json()["access"] == "own_parts"
    record = read(client, health, opened["id"]).get_json()
    assert record["access"] == "own_parts"
    assert record["survivor"] is None
    assert record["safety_plan"] is None
    assert [i["entry_institution"] for i in record["incidents"]] == ["US-SON"]
    assert {p["institution"] for p in record["parties"]} == {"US-SON"}
    text = str(record)
    for secret in ("María", "7777-1234", "Palmeras", "Izalco"):
        assert secret not in text
    assert "case_join" in actions(app, case_id=opened["id"])


def test_a_join_with_her_consent_recorded_and_given_now_sees_the_whole_record(
    app, client, pnc, health
):
    opened = open_case(client, pnc)
    joined = client.post(f"{API}/cases", json=intake(consent=SHARE_ALL), headers=health.headers)
    assert joined.get_json()["access"] == "full"
    record = read(client, health, opened["id"]).get_json()
    assert record["access"] == "full" and record["survivor"]["given_names"] == "María José"


def test_a_join_without_consent_given_now_sees_only_its_own_parts(app, client, pnc, health):
    opened = open_case(client, pnc)
    body = intake(consent={"statistics": True})
    assert (
        client.post(f"{API}/cases", json=body, headers=health.headers).get_json()["access"]
        == "own_parts"
    )
    assert read(client, health, opened["id"]).get_json()["survivor"] is None


def test_joins_are_told_to_the_live_parties_and_queued_for_supervisors(
    app, client, pnc, health, supervisor
):
    opened = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=health.headers)
    notes = client.get(f"{API}/notifications", headers=pnc.headers).get_json()["items"]
    assert any(n["kind"] == "case_join" and n["reference"] == opened["number"] for n in notes)
    queue = client.get(f"{API}/joins", headers=supervisor.headers)
    assert queue.status_code == 200
    pending = queue.get_json()["items"]
    assert [(j["case_number"], j["institution"], j["access"]) for j in pending] == [
        (opened["number"], "US-SON", "full")
    ]
    reviewed = client.post(
        f"{API}/joins/{pending[0]['id']}/review",
        headers=supervisor.headers,
        json={"justified": True},
    )
    assert reviewed.status_code == 200
    assert client.get(f"{API}/joins", headers=supervisor.headers).get_json()["items"] == []


# ---- consent: history, absent keys, revocation -----------------------------------------


def test_a_later_intake_that_says_nothing_about_consent_keeps_hers(app, client, pnc, health):
    opened = open_case(client, pnc)
    body = intake()
    del body["consent"]
    assert client.post(f"{API}/cases", json=body, headers=health.headers).status_code == 201
    consent = read(client, pnc, opened["id"]).get_json()["consent"]
    assert consent["share_with_network"] is True and consent["police"] is True


def test_absent_consent_keys_stay_as_recorded(app, client, pnc):
    opened = open_case(client, pnc)
    changed = client.post(
        f"{API}/cases/{opened['id']}/consent", headers=pnc.headers, json={"police": False}
    )
    assert changed.status_code == 201
    record = read(client, pnc, opened["id"]).get_json()
    assert record["consent"]["share_with_network"] is True
    assert record["consent"]["statistics"] is True
    assert record["consent"]["police"] is False
    history = record["consents"]
    assert [c["police"] for c in history] == [True, False]
    assert all(c["institution"] == "PNC-SON" and c["recorded_at"] for c in history)


def test_revoking_sharing_drops_every_other_party_to_own_parts_at_once(
    app, client, pnc, health, womens
):
    opened = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=health.headers)
    client.post(
        f"{API}/cases/{opened['id']}/notes",
        headers=health.headers,
        json={"kind": "medical", "text": "Lesiones en brazos"},
    )
    client.post(f"{API}/cases", json=intake(), headers=womens.headers)
    assert read(client, health, opened["id"]).get_json()["access"] == "full"
    revoked = client.post(
        f"{API}/cases/{opened['id']}/consent",
        headers=womens.headers,
        json={"share_with_network": False},
    )
    assert revoked.status_code == 201
    assert read(client, womens, opened["id"]).get_json()["access"] == "full"
    for other in (pnc, health):
        record = read(client, other, opened["id"]).get_json()
        assert record["access"] == "own_parts" and record["survivor"] is None
    # What the health unit wrote itself it keeps (its own records law requires it).
    notes = read(client, health, opened["id"]).get_json()["notes"]
    assert [n["text"] for n in notes] == ["Lesiones en brazos"]


def test_an_own_parts_party_cannot_widen_her_consent(app, client, pnc, health):
    opened = open_case(client, pnc, consent=NO_SHARING)
    client.post(f"{API}/cases", json=intake(), headers=health.headers)
    widened = client.post(
        f"{API}/cases/{opened['id']}/consent",
        headers=health.headers,
        json={"share_with_network": True},
    )
    assert widened.status_code == 403
    assert read(client, health, opened["id"]).get_json()["access"] == "own_parts"
    # Joining again changes nothing either: a join only ever narrows her consent.
    client.post(f"{API}/cases", json=intake(consent=SHARE_ALL), headers=health.headers)
    assert read(client, pnc, opened["id"]).get_json()["consent"]["share_with_network"] is False


def test_consent_for_a_child_records_who_gave_it(app, client, womens):
    body = intake(
        {"birth_date": "2013-05-02", "dui": None}, consent={**SHARE_ALL, "given_by": "guardian"}
    )
    opened = client.post(f"{API}/cases", json=body, headers=womens.headers).get_json()
    record = read(client, womens, opened["id"]).get_json()
    assert record["mandatory_report"] is True
    assert record["consent"]["given_by"] == "guardian"


# ---- referrals ---------------------------------------------------------------------------


def test_no_referral_after_she_revoked_sharing_whatever_the_request_says(app, client, pnc):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    client.post(
        f"{API}/cases/{opened['id']}/consent",
        headers=pnc.headers,
        json={"share_with_network": False},
    )
    refused = refer(client, pnc, opened["id"], ids["US-SON"], consent=True)
    assert refused.status_code == 422
    assert "consent" in refused.get_json()["fields"]


def test_a_referral_needs_its_own_confirmation_too(app, client, pnc):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    assert refer(client, pnc, opened["id"], ids["US-SON"], consent=False).status_code == 422


def test_a_minor_is_reported_to_the_police_without_waiting_on_consent(app, client, womens):
    ids = institution_ids(client, womens)
    body = intake({"birth_date": "2012-02-02", "dui": None}, consent=NO_SHARING)
    opened = client.post(f"{API}/cases", json=body, headers=womens.headers).get_json()
    sent = refer(client, womens, opened["id"], ids["PNC-SON"], "police_complaint", consent=False)
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["mandatory_report"] is True
    assert refer(client, womens, opened["id"], ids["US-SON"], consent=False).status_code == 422


def test_a_receiver_sees_the_record_only_once_it_accepted(app, client, pnc, health):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    referral = refer(client, pnc, opened["id"], ids["US-SON"]).get_json()
    assert read(client, health, opened["id"]).status_code == 404
    seen = client.get(f"{API}/referrals/{referral['id']}", headers=health.headers).get_json()
    assert seen["reason"] == "Atención por lesiones"  # the referral itself, yes
    assert move(client, health, referral["id"], "accept").status_code == 200
    assert read(client, health, opened["id"]).get_json()["access"] == "full"


def test_a_declined_receiver_keeps_codes_and_dates_only(app, client, pnc, health, make_person):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    referral = refer(client, pnc, opened["id"], ids["US-SON"]).get_json()
    assert move(client, health, referral["id"], "decline", "Sin cupo").status_code == 200
    seen = client.get(f"{API}/referrals/{referral['id']}", headers=health.headers)
    assert seen.status_code == 200
    body = seen.get_json()
    assert body["reason"] is None and body["text_withheld"] is True
    assert body["status"] == "declined" and body["service"] == "medical"
    assert read(client, health, opened["id"]).status_code == 404
    start_web_session(app, client, health.username)
    assert client.get(f"/referrals/{referral['id']}/sheet").status_code == 404
    assert "referral_view" in actions(app, username=health.username)


def test_a_cancelled_receiver_loses_the_record_and_the_sheet(app, client, pnc, health):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    referral = refer(client, pnc, opened["id"], ids["US-SON"]).get_json()
    move(client, health, referral["id"], "accept")
    assert move(client, pnc, referral["id"], "cancel").status_code == 200
    assert read(client, health, opened["id"]).status_code == 404
    seen = client.get(f"{API}/referrals/{referral['id']}", headers=health.headers).get_json()
    assert seen["reason"] is None
    start_web_session(app, client, health.username)
    assert client.get(f"/referrals/{referral['id']}/sheet").status_code == 404


def test_revoking_sharing_withholds_the_referral_text_from_the_receiver(app, client, pnc, health):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    referral = refer(client, pnc, opened["id"], ids["US-SON"]).get_json()
    move(client, health, referral["id"], "accept")
    client.post(
        f"{API}/cases/{opened['id']}/consent",
        headers=pnc.headers,
        json={"share_with_network": False},
    )
    seen = client.get(f"{API}/referrals/{referral['id']}", headers=health.headers).get_json()
    assert seen["reason"] is None
    assert read(client, health, opened["id"]).get_json()["access"] == "own_parts"
    # The sender wrote it: it keeps reading it.
    mine = client.get(f"{API}/referrals/{referral['id']}", headers=pnc.headers).get_json()
    assert mine["reason"] == "Atención por lesiones"


def test_every_referral_read_is_audited(app, client, pnc):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    referral = refer(client, pnc, opened["id"], ids["US-SON"]).get_json()
    before = actions(app).count("referral_view")
    client.get(f"{API}/referrals/{referral['id']}", headers=pnc.headers)
    assert actions(app).count("referral_view") == before + 1


# ---- conflict of interest ----------------------------------------------------------------


def test_an_excluded_institution_joins_with_own_parts_and_receives_no_referral(
    app, client, pnc, health
):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    excluded = client.post(
        f"{API}/cases/{opened['id']}/consent",
        headers=pnc.headers,
        json={"exclude_institutions": [ids["US-SON"]]},
    )
    assert excluded.status_code == 201
    joined = client.post(f"{API}/cases", json=intake(), headers=health.headers).get_json()
    assert joined["access"] == "own_parts"
    assert read(client, health, opened["id"]).get_json()["survivor"] is None
    assert refer(client, pnc, opened["id"], ids["US-SON"]).status_code == 422


def test_excluding_a_party_restricts_it_at_once(app, client, pnc, health):
    ids = institution_ids(client, pnc)
    opened = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=health.headers)
    client.post(
        f"{API}/cases/{opened['id']}/consent",
        headers=pnc.headers,
        json={"exclude_institutions": [ids["US-SON"]]},
    )
    assert read(client, health, opened["id"]).get_json()["access"] == "own_parts"


# ---- refusals leave a trace ------------------------------------------------------------------


def test_a_refused_case_read_leaves_access_denied(app, client, pnc, make_person):
    outsider = make_person("health_staff", "US-ACA")
    opened = open_case(client, pnc)
    assert read(client, outsider, opened["id"]).status_code == 404
    assert client.get(f"{API}/cases/not-a-uuid", headers=outsider.headers).status_code == 404
    assert actions(app, username=outsider.username).count("access_denied") == 2
    start_web_session(app, client, outsider.username)
    assert client.get(f"/cases/{opened['id']}").status_code == 404
    assert actions(app, username=outsider.username).count("access_denied") == 3


def test_a_refused_write_stores_nothing_and_leaves_access_denied(app, client, pnc, make_person):
    outsider = make_person("womens_office", "UMM-ACA")
    opened = open_case(client, pnc)
    response = client.post(
        f"{API}/cases/{opened['id']}/notes",
        headers=outsider.headers,
        json={"kind": "social", "text": "Intento"},
    )
    assert response.status_code == 404
    assert "access_denied" in actions(app, username=outsider.username)
    assert read(client, pnc, opened["id"]).get_json()["notes"] == []


# ---- the page shows what the API shows ---------------------------------------------------------


def test_the_case_page_of_an_own_parts_party_shows_no_identity(app, client, pnc, health):
    opened = open_case(client, pnc, consent=NO_SHARING)
    own = intake(incident_overrides={"narrative": "Atendida en la unidad de salud."})
    client.post(f"{API}/cases", json=own, headers=health.headers)
    start_web_session(app, client, health.username)
    page = client.get(f"/cases/{opened['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "María José" not in html and "7777-1234" not in html and "Palmeras" not in html
    assert "solo lo que ella misma registró" in html
    assert "Remitir a otra institución" not in html  # referring needs the whole record
    assert "Relato confidencial" not in html  # PNC's narrative
    assert "Atendida en la unidad de salud." in html  # its own


def test_the_web_join_keeps_her_consent_when_no_box_is_ticked(app, client, pnc, health):
    opened = open_case(client, pnc)
    start_web_session(app, client, health.username)
    page = client.get("/cases/new").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(page),
        "given_names": "María José",
        "family_names": "López Hernández",
        "dui": "12345678-4",
        "birth_date": "1994-03-15",
        "sex": "F",
        "municipality": "sonsonate",
        "occurred_on": "2026-10-29",
        "incident_municipality": "sonsonate",
        "violence_types": ["physical"],
        "perpetrator_relationship": "partner",
    }
    joined = client.post("/cases/new", data=form)
    assert joined.status_code == 303
    consent = read(client, pnc, opened["id"]).get_json()["consent"]
    assert consent["share_with_network"] is True
    assert read(client, health, opened["id"]).get_json()["access"] == "own_parts"


def test_a_dui_on_file_with_another_name_and_the_same_birth_date_joins(app, client, pnc, health):
    """The contract's rule: DUI and birth date are enough; the name can be misspelt."""
    opened = open_case(client, pnc)
    body = intake({"given_names": "Maria", "family_names": "Lopes"})
    joined = client.post(f"{API}/cases", json=body, headers=health.headers).get_json()
    assert joined["id"] == opened["id"] and joined["matched_existing"] is True


def test_another_dui_with_the_same_name_and_birth_date_is_another_woman(app, client, pnc, health):
    opened = open_case(client, pnc)
    other = open_case(client, health, dui=OTHER_DUI)
    assert other["id"] != opened["id"] and other["matched_existing"] is False
    with app.app_context():
        assert db.session.query(Case).count() == 2
        assert db.session.query(CaseParty).count() == 2


def test_a_supervisor_reviews_a_join_on_her_page_and_an_unjustified_one_ends_it(
    app, client, pnc, health, supervisor
):
    opened = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=health.headers)
    start_web_session(app, client, supervisor.username)
    page = client.get("/audit").get_data(as_text=True)
    assert opened["number"] in page and "Uniones a expedientes por revisar" in page
    join_id = client.get(f"{API}/joins", headers=supervisor.headers).get_json()["items"][0]["id"]
    answer = client.post(
        f"/audit/joins/{join_id}/review", data={"justified": "no", "csrf_token": csrf_token(page)}
    )
    assert answer.status_code == 302
    assert read(client, health, opened["id"]).status_code == 404
    assert "join_review" in actions(app, username=supervisor.username)
    again = client.post(
        f"/audit/joins/{join_id}/review", data={"justified": "yes", "csrf_token": csrf_token(page)}
    )
    assert again.status_code == 302  # already reviewed: told so, nothing changes
    assert actions(app, username=supervisor.username).count("join_review") == 1
