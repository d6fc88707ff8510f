"""Issue 4's whole route of one survivor through the network, through the API."""

from __future__ import annotations

import threading
import uuid

import pytest

from app.audit.models import AuditEvent
from app.core.time import local_today
from app.extensions import db
from tests.conftest import USING_PG
from tests.factories import intake, one_page_pdf

API = "/api/v1"
HIGH_RISK_ANSWERS = {str(n): n <= 15 for n in range(1, 25)}  # 15 yes
PDF = one_page_pdf("informe medico")


def institution_ids(client, person) -> dict[str, int]:
    items = client.get(f"{API}/institutions", headers=person.headers).get_json()["items"]
    return {item["code"]: item["id"] for item in items}


def refer(client, person, case_id, to, service, urgency="routine", **extra):
    body = {
        "to_institution": to,
        "service": service,
        "urgency": urgency,
        "reason": "Necesita atención",
        "consent": True,
        **extra,
    }
    return client.post(f"{API}/cases/{case_id}/referrals", json=body, headers=person.headers)


def move(client, person, referral_id, action, note=None):
    return client.post(
        f"{API}/referrals/{referral_id}/transition",
        headers=person.headers,
        json={"action": action, "note": note},
    )


def test_route_of_one_survivor(client, pnc, health, womens, app):
    ids = institution_ids(client, pnc)
    opened = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()
    case_id = opened["id"]

    complaint = client.post(
        f"{API}/cases/{case_id}/complaints",
        headers=pnc.headers,
        json={
            "number": "DEN-SON-2026-0042",
            "forward_to_prosecutor": True,
            "measures": [
                {
                    "measure": "keep_away",
                    "granted": True,
                    "court": "Juzgado Especializado",
                    "starts_on": "2026-11-01",
                    "ends_on": "2027-05-01",
                }
            ],
        },
    )
    assert complaint.status_code == 201, complaint.get_json()
    assert complaint.get_json()["measures"][0]["status"] == "active"

    to_health = refer(client, pnc, case_id, ids["US-SON"], "medical", "immediate")
    assert to_health.status_code == 201, to_health.get_json()
    referral = to_health.get_json()
    assert referral["status"] == "sent" and referral["due_on"] == local_today().isoformat()

    # The health unit is a party now and sees the referral in its inbox.
    inbox = client.get(f"{API}/referrals?box=incoming", headers=health.headers).get_json()
    assert [item["id"] for item in inbox["items"]] == [referral["id"]]
    assert inbox["counts"]["to_answer"] == 1
    assert move(client, pnc, referral["id"], "accept").status_code == 403  # wrong side
    assert move(client, health, referral["id"], "start").status_code == 409  # wrong status
    assert move(client, health, referral["id"], "accept").status_code == 200
    assert move(client, health, referral["id"], "accept").status_code == 409
    assert move(client, health, referral["id"], "start").status_code == 200
    assert move(client, health, referral["id"], "complete").status_code == 422  # no note
    done = move(client, health, referral["id"], "complete", "PEP y anticoncepción de emergencia")
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    assert move(client, pnc, referral["id"], "cancel").status_code == 409
    assert (
        client.post(
            f"{API}/cases/{case_id}/notes",
            headers=health.headers,
            json={"kind": "medical", "text": "Lesiones leves documentadas"},
        ).status_code
        == 201
    )

    to_office = refer(client, health, case_id, ids["UMM-SON"], "psychological", "priority")
    assert move(client, womens, to_office.get_json()["id"], "accept").status_code == 200
    risk = client.post(
        f"{API}/cases/{case_id}/risk-assessments",
        headers=womens.headers,
        json={"answers": HIGH_RISK_ANSWERS},
    )
    assert risk.status_code == 201
    assert risk.get_json()["score"] == 15 and risk.get_json()["level"] == "high"
    plan = client.put(
        f"{API}/cases/{case_id}/safety-plan",
        headers=womens.headers,
        json={"plan": "Palabra clave con la vecina; salir por la puerta trasera"},
    )
    assert plan.status_code == 200
    follow = client.post(
        f"{API}/cases/{case_id}/follow-ups",
        headers=womens.headers,
        json={"due_on": "2026-12-01", "channel": "visit"},
    )
    assert follow.status_code == 201

    record = client.get(f"{API}/cases/{case_id}", headers=womens.headers).get_json()
    assert record["risk_level"] == "high" and record["status"] == "follow_up"
    assert record["safety_plan"]["plan"].startswith("Palabra clave")
    assert {r["status"] for r in record["referrals"]} == {"completed", "accepted"}
    assert record["complaints"][0]["measures"][0]["measure"] == "keep_away"
    kinds = [item["kind"] for item in record["timeline"]]
    assert kinds[0] == "case_opened" and "referral_complete" in kinds

    with app.app_context():
        actions = {
            e.action for e in db.session.query(AuditEvent).filter_by(case_id=uuid.UUID(case_id))
        }
    assert {"case_create", "referral_create", "referral_transition", "case_view"} <= actions


def test_declined_receiver_loses_access(client, pnc, make_person):
    ids = institution_ids(client, pnc)
    hospital = make_person("health_staff", "HOSP-SON")
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    referral = refer(client, pnc, case_id, ids["HOSP-SON"], "medical").get_json()
    # Before it accepts, the receiver reads the referral, not her record (CONTRACT §3).
    assert (
        client.get(f"{API}/referrals/{referral['id']}", headers=hospital.headers).status_code == 200
    )
    assert client.get(f"{API}/cases/{case_id}", headers=hospital.headers).status_code == 404
    assert move(client, hospital, referral["id"], "decline").status_code == 422  # reason needed
    assert move(client, hospital, referral["id"], "decline", "Sin especialista").status_code == 200
    assert client.get(f"{API}/cases/{case_id}", headers=hospital.headers).status_code == 404


def test_cancelled_referral_ends_receiver_access(client, pnc, make_person):
    ids = institution_ids(client, pnc)
    hospital = make_person("health_staff", "HOSP-SON")
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    referral = refer(client, pnc, case_id, ids["HOSP-SON"], "medical").get_json()
    assert move(client, hospital, referral["id"], "cancel").status_code == 403
    assert move(client, pnc, referral["id"], "cancel").status_code == 200
    assert client.get(f"{API}/cases/{case_id}", headers=hospital.headers).status_code == 404


def test_referral_needs_consent_and_a_service_the_receiver_gives(client, pnc):
    ids = institution_ids(client, pnc)
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    no_consent = refer(client, pnc, case_id, ids["US-SON"], "medical", consent=False)
    assert no_consent.status_code == 422 and "consent" in no_consent.get_json()["fields"]
    wrong_service = refer(client, pnc, case_id, ids["US-SON"], "shelter")
    assert wrong_service.status_code == 422 and "service" in wrong_service.get_json()["fields"]
    unknown = refer(client, pnc, case_id, 99999, "medical")
    assert unknown.status_code == 422


def test_minor_is_referred_to_prosecutor_without_consent_as_mandatory_report(client, health):
    ids = institution_ids(client, health)
    body = intake(
        survivor_overrides={"dui": None, "birth_date": "2012-05-01"},
        incident_overrides={"violence_types": ["sexual"], "penetration": True},
    )
    case_id = client.post(f"{API}/cases", json=body, headers=health.headers).get_json()["id"]
    response = refer(client, health, case_id, ids["FGR-SON"], "prosecution", consent=False)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["mandatory_report"] is True
    # Not a mandatory-report receiver: consent is still needed.
    assert (
        refer(client, health, case_id, ids["UMM-SON"], "psychological", consent=False).status_code
        == 422
    )


def test_attachment_round_trips_and_is_not_on_disk_in_plaintext(client, pnc, app):
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    upload = client.post(
        f"{API}/cases/{case_id}/attachments",
        headers=pnc.headers,
        data={"file": (__import__("io").BytesIO(PDF), "informe.pdf")},
    )
    assert upload.status_code == 201, upload.get_json()
    attachment_id = upload.get_json()["id"]
    download = client.get(f"{API}/cases/{case_id}/attachments/{attachment_id}", headers=pnc.headers)
    assert download.data.startswith(b"%PDF-")  # rebuilt without active content
    assert download.headers["Content-Disposition"].startswith("attachment")
    download.close()
    stored = list(app.config["RUTA_ATTACHMENTS_DIR"].iterdir())
    assert len(stored) == 1 and b"informe medico" not in stored[0].read_bytes()
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="attachment_download").count() == 1


def test_confidential_note_is_hidden_from_other_parties(client, pnc, womens):
    body = intake()
    case_id = client.post(f"{API}/cases", json=body, headers=pnc.headers).get_json()["id"]
    client.post(f"{API}/cases", json=body, headers=womens.headers)  # joins the case
    client.post(
        f"{API}/cases/{case_id}/notes",
        headers=womens.headers,
        json={"kind": "psychological", "text": "Sesión: ideación suicida", "confidential": True},
    )
    seen_by_pnc = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["notes"]
    seen_by_office = client.get(f"{API}/cases/{case_id}", headers=womens.headers).get_json()[
        "notes"
    ]
    assert seen_by_pnc[0]["text"] is None and seen_by_pnc[0]["hidden"] is True
    assert seen_by_office[0]["text"] == "Sesión: ideación suicida"


def test_only_pnc_agents_file_complaints(client, pnc, health):
    body = intake()
    case_id = client.post(f"{API}/cases", json=body, headers=pnc.headers).get_json()["id"]
    client.post(f"{API}/cases", json=body, headers=health.headers)
    response = client.post(
        f"{API}/cases/{case_id}/complaints", headers=health.headers, json={"number": "X-1"}
    )
    assert response.status_code == 403


def test_closing_needs_a_reason_and_reopening_is_recorded(client, pnc):
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    url = f"{API}/cases/{case_id}/status"
    assert client.post(url, json={"status": "closed"}, headers=pnc.headers).status_code == 422
    closed = client.post(
        url, json={"status": "closed", "reason": "services_completed"}, headers=pnc.headers
    )
    assert closed.status_code == 200 and closed.get_json()["close_reason"] == "services_completed"
    stale = client.post(
        url, json={"status": "open", "reason": "new_information", "version": 1}, headers=pnc.headers
    )
    assert stale.status_code == 409
    assert client.post(url, json={"status": "open"}, headers=pnc.headers).status_code == 422
    reopened = client.post(
        url, json={"status": "open", "reason": "new_information"}, headers=pnc.headers
    )
    assert reopened.status_code == 200
    timeline = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["timeline"]
    assert [i["detail"] for i in timeline if i["kind"] == "status"] == ["closed", "open"]


@pytest.mark.skipif(not USING_PG, reason="row locking is tested on PostgreSQL")
def test_two_concurrent_accepts_give_one_200_and_one_409(app, client, pnc, health):
    ids = institution_ids(client, pnc)
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    referral_id = refer(client, pnc, case_id, ids["US-SON"], "medical").get_json()["id"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def accept() -> None:
        with app.app_context():
            local = app.test_client()
            barrier.wait()
            statuses.append(move(local, health, referral_id, "accept").status_code)

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]


def test_sender_records_the_outcome_when_the_receiver_has_no_users(client, pnc, make_person):
    ids = institution_ids(client, pnc)
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    referral = refer(client, pnc, case_id, ids["FGR-SON"], "prosecution").get_json()
    assert referral["tracked_by_sender"] is True
    for action, note in (("accept", None), ("start", None), ("complete", "Caso judicializado")):
        response = move(client, pnc, referral["id"], action, note)
        assert response.status_code == 200, response.get_json()
    # A supervisor alone does not answer for it (issue 13); once the receiver has a case
    # worker of its own, it answers for itself.
    make_person("supervisor", "FGR-SON")
    still = refer(client, pnc, case_id, ids["FGR-SON"], "prosecution").get_json()
    assert still["tracked_by_sender"] is True
    make_person("prosecutor_staff", "FGR-SON")
    later = refer(client, pnc, case_id, ids["FGR-SON"], "prosecution").get_json()
    assert later["tracked_by_sender"] is False
    assert move(client, pnc, later["id"], "accept").status_code == 403
