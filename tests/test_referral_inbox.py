"""The referral inbox (issue 12, item 3): what each side sees of a referral, the counts of
every filter, one-step "Aceptar y atender" and the structured counter-referral, through
the pages and through the API."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.core.time import local_today
from app.extensions import db
from app.referrals.models import Referral, ReferralEvent
from tests.auth_helpers import csrf_token, start_web_session
from tests.conftest import Person
from tests.factories import intake
from tests.test_database_plaintext import database_bytes, leaked

API = "/api/v1"
NAME = "María José López Hernández"
REASON = "Lesiones en el brazo izquierdo, control de fractura"
PNC_NAME = "PNC — UNIMUJER-ODAC Sonsonate"
HEALTH_NAME = "Unidad de Salud Sonsonate"
COUNTER = {
    "done": "Se inmovilizó la fractura y se dio analgesia",
    "next_step": "Control en ortopedia el lunes a las 8:00",
    "contact": "Dra. Quiñónez, consultorio 4, teléfono 2451-3300",
}


def institution_id(client, person: Person, code: str) -> int:
    items = client.get(f"{API}/institutions", headers=person.headers).get_json()["items"]
    return next(item["id"] for item in items if item["code"] == code)


def open_case(client, person: Person, **survivor) -> str:
    body = intake(survivor or None)
    response = client.post(f"{API}/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def refer(client, person: Person, case_id: str, to: int, urgency: str = "immediate", **extra):
    body = {
        "to_institution": to,
        "service": "medical",
        "urgency": urgency,
        "reason": REASON,
        "consent": True,
        **extra,
    }
    response = client.post(f"{API}/cases/{case_id}/referrals", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def move(client, person: Person, referral_id: str, action: str, **body):
    return client.post(
        f"{API}/referrals/{referral_id}/transition",
        json={"action": action, **body},
        headers=person.headers,
    )


def inbox(client, person: Person, **query) -> dict:
    response = client.get(f"{API}/referrals", query_string=query, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def web(app, person: Person):
    client = app.test_client()
    start_web_session(app, client, person.username)
    return client


def views_of(app, action: str = "referral_view") -> list[tuple[str | None, str | None]]:
    with app.app_context():
        stmt = (
            select(AuditEvent.object_id, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in db.session.execute(stmt).all()]


@pytest.fixture
def sent(client, pnc, health) -> dict[str, str]:
    """Two cases of PNC-SON referred to US-SON: one immediate, one routine."""
    to = institution_id(client, pnc, "US-SON")
    first = open_case(client, pnc)
    second = open_case(client, pnc, dui=None, given_names="Rosa", birth_date="1990-01-01")
    return {
        "case": first,
        "urgent": refer(client, pnc, first, to, "immediate"),
        "routine": refer(client, pnc, second, to, "routine"),
    }


# ---- what each side sees ---------------------------------------------------------------


def test_receiver_sees_names_of_institutions_the_reason_and_urgency_but_not_her_name_yet(
    app, client, health, sent
):
    found = inbox(client, health)
    urgent = next(item for item in found["items"] if item["id"] == sent["urgent"])
    assert urgent["from_institution_name"] == PNC_NAME
    assert urgent["to_institution_name"] == HEALTH_NAME
    assert urgent["from_institution"] == "PNC-SON"  # the code stays beside the name
    assert urgent["reason"] == REASON  # a live receiver reads what the sender wrote
    assert urgent["urgency"] == "immediate" and urgent["due_on"] == local_today().isoformat()
    # Not a party before it accepts: neither her name nor the case's risk.
    assert urgent["survivor_name"] is None and urgent["risk_level"] is None

    page = web(app, health).get("/referrals").get_data(as_text=True)
    assert PNC_NAME in page and HEALTH_NAME in page and REASON in page
    assert "Inmediata" in page and "Ordinaria" in page
    assert NAME not in page


def test_her_name_and_risk_show_only_where_the_institution_sees_her_whole_record(
    app, client, pnc, health, sent
):
    assert move(client, health, sent["urgent"], "accept").status_code == 200
    risk = client.post(
        f"{API}/cases/{sent['case']}/risk-assessments",
        json={"answers": {str(n): n <= 15 for n in range(1, 25)}},
        headers=pnc.headers,
    )
    assert risk.status_code == 201, risk.get_json()
    level = risk.get_json()["level"]
    row = next(i for i in inbox(client, health)["items"] if i["id"] == sent["urgent"])
    assert row["survivor_name"] == NAME and row["risk_level"] == level
    outgoing = inbox(client, pnc, box="outgoing")["items"]
    assert {item["survivor_name"] for item in outgoing} == {NAME, "Rosa López Hernández"}

    # She withdraws her consent at the PNC: the health unit drops to its own parts.
    revoked = client.post(
        f"{API}/cases/{sent['case']}/consent",
        json={"share_with_network": False},
        headers=pnc.headers,
    )
    assert revoked.status_code in (200, 201), revoked.get_json()
    row = next(i for i in inbox(client, health)["items"] if i["id"] == sent["urgent"])
    assert row["survivor_name"] is None and row["risk_level"] is None
    page = web(app, health).get("/referrals").get_data(as_text=True)
    assert NAME not in page


@pytest.mark.parametrize("ending", ["decline", "cancel", "revoke"])
def test_a_former_party_sees_codes_and_dates_only(app, client, pnc, health, sent, ending):
    referral = sent["urgent"]
    if ending == "decline":
        assert move(client, health, referral, "decline", note="Sin cupo hoy").status_code == 200
    elif ending == "cancel":
        assert move(client, pnc, referral, "cancel").status_code == 200
    else:
        assert move(client, health, referral, "accept_and_start").status_code == 200
        body = {"share_with_network": False}
        consent = client.post(f"{API}/cases/{sent['case']}/consent", json=body, headers=pnc.headers)
        assert consent.status_code in (200, 201)
    row = next(i for i in inbox(client, health)["items"] if i["id"] == referral)
    assert row["text_withheld"] is True
    assert row["reason"] is None and row["decline_reason"] is None
    assert row["survivor_name"] is None and row["risk_level"] is None
    assert row["case_number"] and row["due_on"] and row["created_at"]

    before = len(views_of(app))
    page = web(app, health).get("/referrals").get_data(as_text=True)
    row_html = re.search(rf'<tr id="r-{referral}".*?</tr>', page, re.S).group(0)
    assert "Solo códigos y fechas" in row_html
    assert REASON not in row_html and "Sin cupo hoy" not in row_html
    assert f"/referrals/{referral}/sheet" not in row_html  # the sheet would be 404
    assert web(app, health).get(f"/referrals/{referral}").status_code == 404  # and its page
    # Only the other referral (still live, its reason shown) was audited.
    assert [oid for oid, _ in views_of(app)[before:]] == [sent["routine"]]


def test_the_sender_keeps_what_it_wrote_and_reads_the_decline_reason(
    app, client, pnc, health, sent
):
    assert move(client, health, sent["urgent"], "decline", note="Sin cupo hoy").status_code == 200
    row = next(i for i in inbox(client, pnc, box="outgoing")["items"] if i["id"] == sent["urgent"])
    assert row["reason"] == REASON and row["decline_reason"] == "Sin cupo hoy"
    page = web(app, pnc).get("/referrals?box=outgoing").get_data(as_text=True)
    assert "Sin cupo hoy" in page


def test_every_row_that_shows_decrypted_data_is_audited_before_the_page_goes(
    app, client, health, sent
):
    before = len(views_of(app))
    assert web(app, health).get("/referrals").status_code == 200
    shown = views_of(app)[before:]
    assert sorted(shown) == sorted((sent[k], "inbox:text") for k in ("urgent", "routine"))
    # The API face audits the same rows the same way.
    before = len(views_of(app))
    inbox(client, health)
    assert sorted(views_of(app)[before:]) == sorted(shown)


# ---- filters, counts, pages ------------------------------------------------------------


def test_filters_and_their_counts_for_the_receiver_and_the_sender(app, client, pnc, health, sent):
    with app.app_context():  # the routine one is overdue
        db.session.execute(
            update(Referral)
            .where(Referral.id == uuid.UUID(sent["routine"]))
            .values(due_on=local_today() - timedelta(days=2))
        )
        db.session.commit()
    assert move(client, health, sent["urgent"], "accept").status_code == 200

    found = inbox(client, health)
    assert found["facets"]["box"] == {"incoming": 2, "outgoing": 0}
    assert found["facets"]["status"]["sent"] == 1 and found["facets"]["status"]["accepted"] == 1
    assert found["facets"]["urgency"] == {"immediate": 1, "priority": 0, "routine": 1}
    assert found["facets"]["overdue"] == {"overdue": 1}
    only_late = inbox(client, health, overdue="true")
    assert [item["id"] for item in only_late["items"]] == [sent["routine"]]
    assert only_late["items"][0]["overdue"] is True
    # Each facet counts with the other filters applied.
    assert only_late["facets"]["urgency"] == {"immediate": 0, "priority": 0, "routine": 1}
    assert only_late["facets"]["status"]["accepted"] == 0
    by_status = inbox(client, health, status="accepted")
    assert [item["id"] for item in by_status["items"]] == [sent["urgent"]]
    assert by_status["facets"]["overdue"] == {"overdue": 0}

    sender = inbox(client, pnc, box="outgoing", urgency="immediate")
    assert [item["id"] for item in sender["items"]] == [sent["urgent"]]
    assert sender["facets"]["box"] == {"incoming": 0, "outgoing": 1}

    page = web(app, health).get("/referrals?overdue=1").get_data(as_text=True)
    assert 'class="overdue"' in page and "vencida" in page
    assert re.search(r'value="sent"[^>]*>Enviada \(1\)', page)
    assert re.search(r'value="accepted"[^>]*>Aceptada \(0\)', page)
    assert re.search(r'value="routine"[^>]*>Ordinaria \(1\)', page)
    assert "Solo vencidas (1)" in page
    assert re.search(r"Recibidas <span class=\"tag\">1</span>", page)


def test_fifty_a_page(app, client, health, sent):
    with app.app_context():
        model = db.session.get(Referral, uuid.UUID(sent["routine"]))
        for n in range(49):
            db.session.add(
                Referral(
                    id=uuid.uuid4(),
                    case_id=model.case_id,
                    from_institution_id=model.from_institution_id,
                    to_institution_id=model.to_institution_id,
                    service="medical",
                    urgency="routine",
                    status="sent",
                    due_on=local_today() + timedelta(days=20 + n),
                    consent=True,
                    created_by_user_id=model.created_by_user_id,
                )
            )
        db.session.commit()
    first = inbox(client, health)
    assert len(first["items"]) == 50 and first["next_page"] == 2
    assert first["items"][0]["id"] == sent["urgent"]  # the soonest due first
    second = inbox(client, health, page=2)
    assert len(second["items"]) == 1 and second["next_page"] is None
    page = web(app, health).get("/referrals?page=2").get_data(as_text=True)
    assert "Página 2" in page and 'rel="prev"' in page and 'rel="next"' not in page


# ---- Aceptar y atender -----------------------------------------------------------------


def _events(app, referral_id: str) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        stmt = (
            select(ReferralEvent.action, ReferralEvent.from_status, ReferralEvent.to_status)
            .where(ReferralEvent.referral_id == uuid.UUID(referral_id))
            .order_by(ReferralEvent.id)
        )
        return [tuple(row) for row in db.session.execute(stmt).all()]


def test_aceptar_y_atender_takes_a_sent_referral_to_in_progress_in_one_post(app, health, sent):
    client = web(app, health)
    page = client.get("/referrals").get_data(as_text=True)
    assert "Aceptar y atender" in page
    version = re.search(
        rf'/referrals/{sent["urgent"]}/transition".*?name="action" value="accept_and_start">'
        r'\s*<input type="hidden" name="version" value="(\d+)"',
        page,
        re.S,
    ).group(1)
    response = client.post(
        f"/referrals/{sent['urgent']}/transition",
        data={"action": "accept_and_start", "version": version, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/referrals#r-{sent['urgent']}")
    assert _events(app, sent["urgent"])[1:] == [
        ("accept", "sent", "accepted"),
        ("start", "accepted", "in_progress"),
    ]
    transitions = [detail for oid, detail in views_of(app, "referral_transition")]
    assert transitions == ["accept->accepted", "start->in_progress"]
    shown = client.get("/referrals").get_data(as_text=True)
    row = re.search(rf'<tr id="r-{sent["urgent"]}".*?</tr>', shown, re.S).group(0)
    assert "En atención" in row and NAME in row  # a party now: her name shows
    assert "Completar…" in row


def test_accept_and_start_through_the_api_and_only_from_sent(client, pnc, health, sent):
    assert move(client, pnc, sent["urgent"], "accept_and_start").status_code == 403
    done = move(client, health, sent["urgent"], "accept_and_start")
    assert done.status_code == 200 and done.get_json()["status"] == "in_progress"
    assert move(client, health, sent["urgent"], "accept_and_start").status_code == 409


def test_a_stale_accept_and_start_changes_nothing(app, health, sent):
    client = web(app, health)
    token = csrf_token(client.get("/referrals").get_data(as_text=True))
    response = client.post(
        f"/referrals/{sent['urgent']}/transition",
        data={"action": "accept_and_start", "version": "99", "csrf_token": token},
    )
    assert response.status_code == 302
    assert _events(app, sent["urgent"]) == [("send", None, "sent")]


# ---- the counter-referral --------------------------------------------------------------


def test_the_counter_referral_through_the_api_is_read_back_by_both_sides(
    app, client, pnc, health, sent
):
    assert move(client, health, sent["urgent"], "accept_and_start").status_code == 200
    missing = move(client, health, sent["urgent"], "complete", done=COUNTER["done"])
    assert missing.status_code == 422 and "next_step" in missing.get_json()["fields"]
    done = move(client, health, sent["urgent"], "complete", **COUNTER)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["counter_referral"] == COUNTER
    assert done.get_json()["outcome"] == COUNTER["done"]  # the old field keeps its meaning
    for person in (pnc, health):
        read = client.get(f"{API}/referrals/{sent['urgent']}", headers=person.headers)
        assert read.get_json()["counter_referral"] == COUNTER
    page = web(app, pnc).get(f"/referrals/{sent['urgent']}").get_data(as_text=True)
    for text in COUNTER.values():
        assert text in page


def test_a_complete_with_a_note_only_still_works_as_before(client, health, sent):
    assert move(client, health, sent["urgent"], "accept_and_start").status_code == 200
    assert move(client, health, sent["urgent"], "complete").status_code == 422
    done = move(client, health, sent["urgent"], "complete", note="Curación de lesiones")
    assert done.status_code == 200
    assert done.get_json()["counter_referral"] == {
        "done": "Curación de lesiones",
        "next_step": None,
        "contact": None,
    }


def test_the_counter_referral_page_keeps_what_was_typed_and_asks_for_the_next_step(
    app, client, health, sent
):
    assert move(client, health, sent["urgent"], "accept_and_start").status_code == 200
    browser = web(app, health)
    page = browser.get(f"/referrals/{sent['urgent']}").get_data(as_text=True)
    assert 'id="complete-done"' in page and 'aria-required="true"' in page
    refused = browser.post(
        f"/referrals/{sent['urgent']}/transition",
        data={
            "action": "complete",
            "done": COUNTER["done"],
            "next_step": "  ",
            "contact": COUNTER["contact"],
            "csrf_token": csrf_token(page),
        },
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "<title>Error:" in html
    assert COUNTER["done"] in html and COUNTER["contact"] in html  # nothing typed is lost
    assert re.search(r'id="complete-next_step"[^>]*aria-invalid="true"[^>]*autofocus', html)
    assert "Indique el próximo paso" in html
    with app.app_context():
        status = db.session.get(Referral, uuid.UUID(sent["urgent"])).status
    assert status == "in_progress"


def test_the_counter_referral_from_the_page_is_sealed_in_the_database(app, health, sent):
    client = web(app, health)
    page = client.get("/referrals").get_data(as_text=True)
    token = csrf_token(page)
    referral = sent["urgent"]
    started = client.post(
        f"/referrals/{referral}/transition",
        data={"action": "accept_and_start", "csrf_token": token},
    )
    assert started.status_code == 302
    completed = client.post(
        f"/referrals/{referral}/transition",
        data={"action": "complete", **COUNTER, "csrf_token": token},
    )
    assert completed.status_code == 302
    shown = client.get(f"/referrals/{referral}").get_data(as_text=True)
    assert all(text in shown for text in COUNTER.values())
    assert leaked(database_bytes(app), {*COUNTER.values(), REASON}) == []


def test_the_inbox_referral_page_and_sheet_speak_english_when_asked(app, client, health, sent):
    assert move(client, health, sent["urgent"], "accept_and_start").status_code == 200
    browser = web(app, health)
    with browser.session_transaction() as session:
        session["lang"] = "en"
    pages = {
        "/referrals": ("Accept and start", "Overdue only"),
        f"/referrals/{sent['urgent']}": ("Complete with the counter-referral", "Next step"),
        f"/referrals/{sent['urgent']}/sheet": ("Referral and counter-referral sheet", "Cut here"),
    }
    spanish = ("Aceptar y atender", "Solo vencidas", "Próximo paso", "Cortar aquí", "Sobreviviente")
    for path, english in pages.items():
        html = browser.get(path).get_data(as_text=True)
        for text in english:
            assert text in html, (path, text)
        assert not [text for text in spanish if text in html], path
