"""Two records of one woman made one (issue 11, item 5): asked by a party of both, approved
by a supervisor who did not ask, every moved ciphertext re-sealed under the surviving
record's key, both numbers finding the record that stays, parties joined only as her
consent allows, audited, and reversible for 30 days."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.cases.care_models import Attachment, CareNote
from app.cases.models import Case, CaseParty, Incident
from app.cases.record_models import CaseMerge
from app.core.time import utcnow
from app.crypto.envelope import DecryptionError
from app.crypto.service import cipher_for
from app.directory.models import Institution
from app.extensions import db
from app.referrals.models import Referral
from app.reports.stats import StatsQuery, count_groups
from tests.auth_helpers import csrf_token, start_web_session
from tests.conftest import Person
from tests.factories import intake, one_page_pdf

PDF = one_page_pdf("informe B")
FIRST = {"given_names": "María José", "family_names": "López Hernández", "dui": None}
# The same woman, registered again elsewhere with her name misspelt and no DUI.
SECOND = {"given_names": "Maria Jose", "family_names": "Lopes Hernandes", "dui": None}
SHARE = {"share_with_network": True, "statistics": True, "police": True}
ALL_NO = {str(n): False for n in range(1, 25)}


def open_case(
    client: FlaskClient,
    person: Person,
    survivor: dict[str, Any],
    consent: dict[str, Any] | None = None,
    **incident: Any,
) -> dict[str, Any]:
    body = intake(survivor_overrides=survivor, incident_overrides=incident, consent=consent)
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ask(client: FlaskClient, person: Person, keep: str, absorb: str, **body: Any) -> Any:
    payload = {"absorb": absorb, "reason": "Misma persona: mismo teléfono y fecha", **body}
    return client.post(f"/api/v1/cases/{keep}/merge", json=payload, headers=person.headers)


def decide(client: FlaskClient, person: Person, merge_id: str, approve: bool = True) -> Any:
    return client.post(
        f"/api/v1/merges/{merge_id}/review", json={"approve": approve}, headers=person.headers
    )


def revert(client: FlaskClient, person: Person, merge_id: str) -> Any:
    return client.post(f"/api/v1/merges/{merge_id}/revert", headers=person.headers)


def record(client: FlaskClient, person: Person, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_number(client: FlaskClient, person: Person, number: str) -> list[str]:
    response = client.post("/api/v1/cases/search", json={"number": number}, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def institution_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.execute(select(Institution.id).where(Institution.code == code)).scalar()


def ciphers(app: Flask, case_id: str) -> Any:
    with app.app_context():
        case = db.session.get(Case, uuid.UUID(case_id))
        db.session.refresh(case, ["data_key"])
        return cipher_for(app.extensions["ruta.keyring"], case.data_key)


@pytest.fixture
def second_supervisor(make_person) -> Person:
    return make_person("supervisor", "RED-SON", "supervisora.dos")


@pytest.fixture
def pair(app, client, pnc, womens) -> dict[str, Any]:
    """Record A (kept) and record B (absorbed) of one woman, both opened at PNC-SON with
    her consent to share; B has a note, a follow-up, a risk assessment, a complaint with
    a measure, an attachment, a referral and a safety plan; women's office joined B."""
    a = open_case(client, pnc, FIRST, SHARE, occurred_on="2026-09-01")
    b = open_case(client, pnc, SECOND, SHARE, occurred_on="2026-10-30")
    assert a["id"] != b["id"]
    joined = open_case(client, womens, SECOND, SHARE, occurred_on="2026-11-02")
    assert joined["id"] == b["id"] and joined["access"] == "full"
    base = f"/api/v1/cases/{b['id']}"
    writes = [
        ("post", "notes", {"kind": "legal", "text": "Nota jurídica del expediente B"}),
        ("post", "follow-ups", {"due_on": "2026-12-15", "channel": "phone"}),
        ("post", "risk-assessments", {"answers": ALL_NO}),
        ("post", "complaints", {"number": "DEN-B-1", "measures": [{"measure": "keep_away"}]}),
        ("put", "safety-plan", {"plan": "Plan B: casa de su hermana"}),
        (
            "post",
            "referrals",
            {
                "to_institution": institution_id(app, "HOSP-SON"),
                "service": "medical",
                "urgency": "routine",
                "reason": "Atención médica del expediente B",
                "consent": True,
            },
        ),
    ]
    for method, part, body in writes:
        response = getattr(client, method)(f"{base}/{part}", json=body, headers=pnc.headers)
        assert response.status_code in (200, 201), (part, response.get_json())
    upload = client.post(
        f"{base}/attachments",
        headers=pnc.headers,
        data={"file": (io.BytesIO(PDF), "informe-b.pdf"), "description": "Informe B"},
    )
    assert upload.status_code == 201, upload.get_json()
    plan = client.put(
        f"/api/v1/cases/{a['id']}/safety-plan", json={"plan": "Plan A"}, headers=pnc.headers
    )
    assert plan.status_code == 200, plan.get_json()
    version = record(client, pnc, b["id"])["survivor"]["version"]
    corrected = client.patch(
        f"{base}/survivor",
        json={"phone": "7000-0001", "reason": "Número equivocado", "version": version},
        headers=pnc.headers,
    )
    assert corrected.status_code == 200, corrected.get_json()
    return {"a": a, "b": b, "attachment_id": upload.get_json()["id"]}


def approved(client, pnc, supervisor, pair) -> str:
    asked = ask(client, pnc, pair["a"]["id"], pair["b"]["id"])
    assert asked.status_code == 202, asked.get_json()
    merge_id = asked.get_json()["id"]
    answer = decide(client, supervisor, merge_id)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "approved"
    return merge_id


# ---- asking -----------------------------------------------------------------------------


def test_a_request_waits_for_a_supervisor_and_shows_numbers_only(client, pnc, supervisor, pair):
    asked = ask(client, pnc, pair["a"]["id"], pair["b"]["id"])
    assert asked.status_code == 202, asked.get_json()
    body = asked.get_json()
    assert body["status"] == "pending"
    assert (body["surviving_number"], body["absorbed_number"]) == (
        pair["a"]["number"],
        pair["b"]["number"],
    )
    queue = client.get("/api/v1/merges", headers=supervisor.headers)
    assert queue.status_code == 200
    assert [item["id"] for item in queue.get_json()["items"]] == [body["id"]]
    text = queue.get_data(as_text=True)
    for needle in ("María", "Maria", "López", "Lopes", "Misma persona"):
        assert needle not in text
    # Nothing moved yet.
    assert len(record(client, pnc, pair["a"]["id"])["incidents"]) == 1
    assert ask(client, pnc, pair["a"]["id"], pair["b"]["id"]).status_code == 409


def test_an_institution_without_both_whole_records_cannot_ask(
    client, pnc, health, make_person, pair
):
    outsider = make_person("pnc_agent", "PNC-ACA", "agente.acajutla")
    assert ask(client, outsider, pair["a"]["id"], pair["b"]["id"]).status_code == 404
    # Health opened a record of its own: a party of neither A nor B.
    own = open_case(client, health, {"given_names": "Rosa", "family_names": "Ayala", "dui": None})
    assert ask(client, health, own["id"], pair["b"]["id"]).status_code == 404
    # An own_parts party of B (joined without her consent to share) may not ask.
    joined = open_case(client, health, SECOND, {"share_with_network": False})
    assert joined["id"] == pair["b"]["id"] and joined["access"] == "own_parts"
    assert ask(client, health, own["id"], pair["b"]["id"]).status_code == 403
    assert ask(client, pnc, pair["a"]["id"], pair["a"]["id"]).status_code == 422
    assert ask(client, pnc, pair["a"]["id"], pair["b"]["id"], reason="").status_code == 422


def test_the_requester_and_other_roles_cannot_decide(client, pnc, womens, admin, supervisor, pair):
    merge_id = ask(client, pnc, pair["a"]["id"], pair["b"]["id"]).get_json()["id"]
    for person in (pnc, womens, admin):
        assert decide(client, person, merge_id).status_code == 403
        assert client.get("/api/v1/merges", headers=person.headers).status_code == 403
    assert decide(client, supervisor, str(uuid.uuid4())).status_code == 404
    assert decide(client, supervisor, merge_id).status_code == 200
    assert decide(client, supervisor, merge_id).status_code == 409


def test_a_rejected_merge_moves_nothing(client, pnc, supervisor, pair):
    merge_id = ask(client, pnc, pair["a"]["id"], pair["b"]["id"]).get_json()["id"]
    assert decide(client, supervisor, merge_id, approve=False).get_json()["status"] == "rejected"
    assert len(record(client, pnc, pair["a"]["id"])["incidents"]) == 1
    assert record(client, pnc, pair["b"]["id"])["merged_into_id"] is None
    assert revert(client, supervisor, merge_id).status_code == 409


# ---- approving --------------------------------------------------------------------------


def test_a_merged_pair_leaves_one_record_with_everything_and_both_numbers(
    app, client, pnc, supervisor, pair
):
    approved(client, pnc, supervisor, pair)
    kept = record(client, pnc, pair["a"]["id"])
    assert sorted(i["occurred_on"] for i in kept["incidents"]) == [
        "2026-09-01",
        "2026-10-30",
        "2026-11-02",
    ]
    assert [n["text"] for n in kept["notes"]] == ["Nota jurídica del expediente B"]
    assert len(kept["follow_ups"]) == 1 and len(kept["risk_assessments"]) == 1
    assert kept["complaints"][0]["number"] == "DEN-B-1"
    assert kept["complaints"][0]["measures"][0]["measure"] == "keep_away"
    assert kept["attachments"][0]["description"] == "Informe B"
    assert [r["reason"] for r in kept["referrals"]] == ["Atención médica del expediente B"]
    assert [(c["fields"], c["reason"]) for c in kept["corrections"]] == [
        (["phone"], "Número equivocado")
    ]
    # Both plans kept in the one that stays: her safety first.
    assert "Plan A" in kept["safety_plan"]["plan"] and "Plan B" in kept["safety_plan"]["plan"]
    # The newest consent row states the kept record's consent.
    assert kept["consent"]["share_with_network"] is True
    download = client.get(
        f"/api/v1/cases/{pair['a']['id']}/attachments/{pair['attachment_id']}",
        headers=pnc.headers,
    )
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    absorbed = record(client, pnc, pair["b"]["id"])
    assert absorbed["status"] == "merged"
    assert absorbed["merged_into_id"] == pair["a"]["id"]
    assert absorbed["incidents"] == []
    # Each number finds the record that stays; the absorbed one is in no list.
    assert by_number(client, pnc, pair["b"]["number"]) == [pair["a"]["id"]]
    assert by_number(client, pnc, pair["a"]["number"]) == [pair["a"]["id"]]
    listed = client.get("/api/v1/cases", headers=pnc.headers).get_json()["items"]
    assert {item["id"] for item in listed} == {pair["a"]["id"]}


def test_moved_ciphertexts_open_with_the_surviving_key_and_not_the_absorbed_one(
    app, client, pnc, supervisor, pair
):
    approved(client, pnc, supervisor, pair)
    kept, gone = ciphers(app, pair["a"]["id"]), ciphers(app, pair["b"]["id"])
    with app.app_context():
        incident = db.session.execute(
            select(Incident).where(Incident.occurred_on == utcnow().date().replace(2026, 10, 30))
        ).scalar_one()
        note = db.session.execute(select(CareNote)).scalar_one()
        referral = db.session.execute(select(Referral)).scalar_one()
        assert str(incident.case_id) == str(note.case_id) == pair["a"]["id"]
        sealed = [
            ("incidents", incident.id, "narrative", incident.narrative_enc),
            ("care_notes", note.id, "note", note.note_enc),
            ("referrals", referral.id, "reason", referral.reason_enc),
        ]
        attachment = db.session.get(Attachment, uuid.UUID(pair["attachment_id"]))
        path = app.config["RUTA_ATTACHMENTS_DIR"] / attachment.storage_name
        sealed.append(("attachments", attachment.id, "content", path.read_bytes()))
    for table, row_id, field, blob in sealed:
        assert kept.open_bytes(table, row_id, field, blob)
        with pytest.raises(DecryptionError):
            gone.open_bytes(table, row_id, field, blob)


def test_parties_of_the_absorbed_record_join_as_her_consent_allows(
    app, client, pnc, womens, health, supervisor
):
    # A: opened without her consent to share. B: shared, women's office has all of it.
    a = open_case(client, pnc, FIRST, {"share_with_network": False}, occurred_on="2026-09-01")
    b = open_case(client, pnc, SECOND, SHARE, occurred_on="2026-10-30")
    assert open_case(client, womens, SECOND, SHARE, occurred_on="2026-11-02")["access"] == "full"
    merge_id = ask(client, pnc, a["id"], b["id"]).get_json()["id"]
    assert decide(client, supervisor, merge_id).status_code == 200
    seen = record(client, womens, a["id"])
    assert seen["access"] == "own_parts" and seen["survivor"] is None
    # The worker who served her at the women's office goes on serving her there.
    assert (seen.get("responsible") or {}).get("id") == womens.id
    # It sees what it wrote itself (its incident moved with the rest), nothing of others.
    assert [i["occurred_on"] for i in seen["incidents"]] == ["2026-11-02"]
    assert client.get(f"/api/v1/cases/{a['id']}", headers=health.headers).status_code == 404


def test_a_merge_is_audited_on_both_records_and_told_to_their_parties(
    app, client, pnc, womens, supervisor, pair
):
    merge_id = approved(client, pnc, supervisor, pair)
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.case_id, AuditEvent.detail).where(AuditEvent.action == "case_merge")
        ).all()
    details = {(str(case_id), detail) for case_id, detail in rows}
    assert (pair["a"]["id"], "merge:approved;surviving") in details
    assert (pair["b"]["id"], "merge:approved;absorbed") in details
    assert (pair["b"]["id"], "merge:requested;absorbed") in details
    notes = client.get("/api/v1/notifications", headers=womens.headers).get_json()["items"]
    assert any(n["kind"] == "case_merge" for n in notes), notes
    assert merge_id


def test_the_merged_incidents_are_counted_once_and_the_absorbed_record_not_at_all(
    app, client, pnc, supervisor, pair
):
    def counts() -> tuple[int, int]:
        with app.app_context():
            start, end = utcnow().date().replace(2026, 1, 1), utcnow().date().replace(2026, 12, 31)
            incidents = count_groups(db.session, StatsQuery(start, end, ("sex",), "incidents"))
            cases = count_groups(db.session, StatsQuery(start, end, ("sex",), "cases"))
            return sum(incidents.values()), sum(cases.values())

    assert counts() == (3, 2)
    approved(client, pnc, supervisor, pair)
    assert counts() == (3, 1)


def test_an_absorbed_record_takes_no_more_writes_and_cannot_be_merged_again(
    client, pnc, supervisor, pair
):
    approved(client, pnc, supervisor, pair)
    note = client.post(
        f"/api/v1/cases/{pair['b']['id']}/notes",
        json={"kind": "legal", "text": "Tarde"},
        headers=pnc.headers,
    )
    assert note.status_code == 409 and note.get_json()["error"] == "case_merged"
    assert ask(client, pnc, pair["a"]["id"], pair["b"]["id"]).status_code == 409


def test_a_new_intake_with_the_absorbed_spelling_joins_the_record_that_stayed(
    client, pnc, supervisor, pair
):
    approved(client, pnc, supervisor, pair)
    again = open_case(client, pnc, SECOND, SHARE, occurred_on="2026-11-20")
    assert again["matched_existing"] is True
    assert again["id"] == pair["a"]["id"]


# ---- reverting --------------------------------------------------------------------------


def test_a_revert_within_30_days_restores_both_records(app, client, pnc, supervisor, pair):
    before_a = record(client, pnc, pair["a"]["id"])
    before_b = record(client, pnc, pair["b"]["id"])
    merge_id = approved(client, pnc, supervisor, pair)
    undone = revert(client, supervisor, merge_id)
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["status"] == "reverted"
    after_a, after_b = record(client, pnc, pair["a"]["id"]), record(client, pnc, pair["b"]["id"])
    for part in ("incidents", "notes", "follow_ups", "risk_assessments", "complaints"):
        assert [x["id"] for x in after_a[part]] == [x["id"] for x in before_a[part]], part
        assert [x["id"] for x in after_b[part]] == [x["id"] for x in before_b[part]], part
    assert after_a["safety_plan"]["plan"] == "Plan A"
    assert after_b["safety_plan"]["plan"] == "Plan B: casa de su hermana"
    assert after_b["notes"][0]["text"] == "Nota jurídica del expediente B"
    assert after_b["referrals"][0]["reason"] == "Atención médica del expediente B"
    assert after_b["status"] == before_b["status"] != "merged"
    assert after_b["merged_into_id"] is None
    assert by_number(client, pnc, pair["b"]["number"]) == [pair["b"]["id"]]
    assert [c["consent"] for c in (after_a, after_b)] == [
        before_a["consent"],
        before_b["consent"],
    ]
    # Back under B's key, and no longer under A's.
    kept, gone = ciphers(app, pair["b"]["id"]), ciphers(app, pair["a"]["id"])
    with app.app_context():
        note = db.session.execute(select(CareNote)).scalar_one()
        assert str(note.case_id) == pair["b"]["id"]
        assert kept.open_text("care_notes", note.id, "note", note.note_enc)
        with pytest.raises(DecryptionError):
            gone.open_text("care_notes", note.id, "note", note.note_enc)
        added = db.session.execute(
            select(CaseParty).where(
                CaseParty.case_id == uuid.UUID(pair["a"]["id"]), CaseParty.reason == "merged"
            )
        ).scalars()
        assert all(party.ended_at is not None for party in added)
    download = client.get(
        f"/api/v1/cases/{pair['b']['id']}/attachments/{pair['attachment_id']}",
        headers=pnc.headers,
    )
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert revert(client, supervisor, merge_id).status_code == 409


def test_after_30_days_a_merge_can_no_longer_be_reverted(app, client, pnc, supervisor, pair):
    merge_id = approved(client, pnc, supervisor, pair)
    with app.app_context():
        db.session.execute(
            update(CaseMerge)
            .where(CaseMerge.id == uuid.UUID(merge_id))
            .values(decided_at=utcnow() - timedelta(days=31))
        )
        db.session.commit()
    refused = revert(client, supervisor, merge_id)
    assert refused.status_code == 409, refused.get_json()
    assert record(client, pnc, pair["b"]["id"])["status"] == "merged"
    assert revert(client, pnc, merge_id).status_code == 403


# ---- the pages --------------------------------------------------------------------------


def test_the_pages_ask_approve_and_revert_with_numbers_only(app, client, pnc, supervisor, pair):
    start_web_session(app, client, pnc.username)
    case_page = client.get(f"/cases/{pair['a']['id']}").get_data(as_text=True)
    assert "Posibles duplicados" in case_page
    page = client.get(f"/cases/{pair['a']['id']}/duplicates")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert pair["b"]["number"] in html and "Maria Jose Lopes Hernandes" in html
    asked = client.post(
        f"/cases/{pair['a']['id']}/merge",
        data={
            "absorb": pair["b"]["id"],
            "reason": "Misma persona, registrada dos veces",
            "csrf_token": csrf_token(html),
        },
    )
    assert asked.status_code == 302
    reviewer = app.test_client()
    start_web_session(app, reviewer, supervisor.username)
    audit_page = reviewer.get("/audit").get_data(as_text=True)
    assert pair["b"]["number"] in audit_page and pair["a"]["number"] in audit_page
    for needle in ("María", "Maria", "Misma persona"):
        assert needle not in audit_page
    with app.app_context():
        merge_id = str(db.session.execute(select(CaseMerge.id)).scalar_one())
    token = csrf_token(audit_page)
    approve = reviewer.post(
        f"/audit/merges/{merge_id}/review", data={"approve": "yes", "csrf_token": token}
    )
    assert approve.status_code == 302
    assert record(client, pnc, pair["b"]["id"])["status"] == "merged"
    absorbed_page = client.get(f"/cases/{pair['b']['id']}").get_data(as_text=True)
    assert "Ver el expediente que quedó" in absorbed_page
    undo = reviewer.post(f"/audit/merges/{merge_id}/revert", data={"csrf_token": token})
    assert undo.status_code == 302
    assert record(client, pnc, pair["b"]["id"])["merged_into_id"] is None


def test_her_slip_of_the_absorbed_record_shows_the_stage_of_the_one_that_stayed(
    app, client, pnc, supervisor
):
    a = open_case(client, pnc, FIRST, SHARE, occurred_on="2026-09-01")
    b = open_case(client, pnc, SECOND, SHARE, occurred_on="2026-10-30")
    complaint = client.post(
        f"/api/v1/cases/{a['id']}/complaints", json={"number": "DEN-A-1"}, headers=pnc.headers
    )
    assert complaint.status_code == 201
    slip = {"code": b["status_code"], "pin": b["status_pin"]}
    assert client.post("/api/v1/status", json=slip).get_json()["status"] == "caso abierto"
    merge_id = ask(client, pnc, a["id"], b["id"]).get_json()["id"]
    assert decide(client, supervisor, merge_id).status_code == 200
    assert client.post("/api/v1/status", json=slip).get_json()["status"] == "denuncia recibida"


def test_a_closed_duplicate_can_still_be_merged_into_her_open_record(client, pnc, supervisor, pair):
    absorbed = record(client, pnc, pair["b"]["id"])
    before = len(record(client, pnc, pair["a"]["id"])["incidents"]) + len(absorbed["incidents"])
    closed = client.post(
        f"/api/v1/cases/{pair['b']['id']}/status",
        json={"status": "closed", "reason": "other", "version": absorbed["version"]},
        headers=pnc.headers,
    )
    assert closed.status_code == 200, closed.get_json()
    approved(client, pnc, supervisor, pair)
    assert len(record(client, pnc, pair["a"]["id"])["incidents"]) == before
