"""Transfers of the lead institution (issue 13, item 3): the lead hands the coordination
of her care to a party or to an institution of another department; the target accepts or
declines; the case keeps its number. Both faces, through real migrations."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.referrals.models import CaseTransfer
from tests.auth_helpers import csrf_token
from tests.conftest import Person
from tests.factories import intake
from tests.test_database_plaintext import database_bytes, leaked
from tests.test_migrations import migrate
from tests.test_referral_inbox import institution_id, open_case, web

API = "/api/v1"
NOTE = "Se mudó donde su madre en Santa Ana; teléfono nuevo 7123-9876"
DECLINE = "No tenemos cupo de atención psicológica este mes"


def ask(client, lead: Person, case_id: str, to: int, **extra):
    body = {"to_institution": to, "reason": "survivor_moved", "note": NOTE, **extra}
    return client.post(f"{API}/cases/{case_id}/transfers", json=body, headers=lead.headers)


def asked(client, lead: Person, case_id: str, to: int) -> dict:
    response = ask(client, lead, case_id, to)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def answer(client, person: Person, transfer: dict, action: str, **body):
    return client.post(
        f"{API}/transfers/{transfer['id']}/transition",
        json={"action": action, **body},
        headers=person.headers,
    )


def read(client, person: Person, case_id: str):
    return client.get(f"{API}/cases/{case_id}", headers=person.headers)


def box(client, person: Person, name: str) -> list[dict]:
    response = client.get(f"{API}/transfers", query_string={"box": name}, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def kinds_told(client, person: Person) -> list[str]:
    items = client.get(f"{API}/notifications", headers=person.headers).get_json()["items"]
    return sorted(item["kind"] for item in items if item["kind"].startswith("transfer_"))


def audited(app, case_id: str) -> list[tuple[str, str | None, str | None]]:
    with app.app_context():
        stmt = (
            select(AuditEvent.action, AuditEvent.username, AuditEvent.detail)
            .where(
                AuditEvent.case_id == uuid.UUID(case_id),
                AuditEvent.action.in_(("case_transfer", "transfer_transition")),
            )
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in db.session.execute(stmt).all()]


@pytest.fixture
def case_id(client, pnc) -> str:
    return open_case(client, pnc)


@pytest.fixture
def santa_ana(make_person) -> Person:
    return make_person("womens_office", "UMM-STA", "mujer.sta.test")


@pytest.fixture
def joined(client, case_id, health) -> str:
    """US-SON joins her case through a matched intake, with her consent now: full."""
    response = client.post(f"{API}/cases", json=intake(), headers=health.headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["matched_existing"] is True
    return case_id


# ---- the lead on the record ----------------------------------------------------------


def test_the_case_shows_its_lead_the_opener_at_first(client, pnc, case_id):
    record = read(client, pnc, case_id).get_json()
    lead = record["lead_institution"]
    assert (lead["code"], lead["name"]) == ("PNC-SON", "PNC — UNIMUJER-ODAC Sonsonate")
    assert lead["id"] == institution_id(client, pnc, "PNC-SON")


def test_an_own_parts_party_is_not_told_who_leads(client, pnc, health):
    case_id = open_case(client, pnc)
    body = intake(consent={"share_with_network": False, "statistics": True, "police": True})
    response = client.post(f"{API}/cases", json=body, headers=health.headers)
    assert response.get_json()["access"] == "own_parts"
    assert read(client, health, case_id).get_json()["lead_institution"] is None


def test_migration_0025_makes_the_opener_the_lead_of_the_cases_it_finds(app, client, pnc, health):
    first = open_case(client, health)
    second = open_case(client, pnc, dui=None, given_names="Rosa", birth_date="1990-01-01")
    migrate(app, "downgrade", "0022")
    migrate(app, "upgrade", "head")
    assert read(client, health, first).get_json()["lead_institution"]["code"] == "US-SON"
    assert read(client, pnc, second).get_json()["lead_institution"]["code"] == "PNC-SON"


# ---- another department --------------------------------------------------------------


def test_a_transfer_to_santa_ana_moves_the_lead_and_keeps_the_number(
    app, client, pnc, santa_ana, case_id
):
    number = read(client, pnc, case_id).get_json()["number"]
    assert number.startswith("SON-")
    to = institution_id(client, pnc, "UMM-STA")
    transfer = asked(client, pnc, case_id, to)
    assert (transfer["status"], transfer["reason"], transfer["note"]) == (
        "requested",
        "survivor_moved",
        NOTE,
    )
    assert transfer["case_number"] == number

    accepted = answer(client, santa_ana, transfer, "accept", version=transfer["version"])
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["status"] == "accepted"
    record = read(client, santa_ana, case_id).get_json()
    assert (record["access"], record["number"]) == ("full", number)
    assert record["lead_institution"]["code"] == "UMM-STA"
    assert record["survivor"]["given_names"] == "María José"
    transfer_party = [p for p in record["parties"] if p["institution"] == "UMM-STA"]
    assert [(p["reason"], p["access"]) for p in transfer_party] == [("transfer", "full")]
    # The former lead stays a party with the access it had; it no longer leads.
    former = read(client, pnc, case_id).get_json()
    assert (former["access"], former["lead_institution"]["code"]) == ("full", "UMM-STA")
    assert ask(client, pnc, case_id, institution_id(client, pnc, "US-SON")).status_code == 403


def test_while_asked_the_target_sees_codes_and_dates_only(client, pnc, santa_ana, case_id):
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    assert read(client, santa_ana, case_id).status_code == 404
    [row] = box(client, santa_ana, "incoming")
    assert row["id"] == transfer["id"]
    assert (row["from_institution"]["code"], row["status"]) == ("PNC-SON", "requested")
    assert row["note"] is None and row["decline_reason"] is None
    assert box(client, santa_ana, "outgoing") == []
    assert [r["id"] for r in box(client, pnc, "outgoing")] == [transfer["id"]]


def test_the_note_is_sealed(app, client, pnc, santa_ana, case_id):
    asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    with app.app_context():
        row = db.session.execute(select(CaseTransfer)).scalar_one()
        assert row.note_enc is not None and NOTE.encode() not in row.note_enc
    assert leaked(database_bytes(app), {NOTE}) == []


# ---- declining, cancelling -----------------------------------------------------------


def test_decline_needs_a_reason_keeps_the_lead_and_leaves_the_target_nothing(
    client, pnc, santa_ana, case_id
):
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    refused = answer(client, santa_ana, transfer, "decline")
    assert refused.status_code == 422
    assert "reason" in refused.get_json()["fields"]
    declined = answer(client, santa_ana, transfer, "decline", reason=DECLINE)
    assert declined.status_code == 200
    assert declined.get_json()["decline_reason"] is None  # a former party: codes only
    assert read(client, santa_ana, case_id).status_code == 404
    assert read(client, pnc, case_id).get_json()["lead_institution"]["code"] == "PNC-SON"
    [row] = box(client, pnc, "outgoing")
    assert row["status"] == "declined"
    assert answer(client, santa_ana, transfer, "accept").status_code == 409


def test_the_lead_cancels_and_the_target_can_no_longer_accept(client, pnc, santa_ana, case_id):
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    assert answer(client, santa_ana, transfer, "cancel").status_code == 403  # wrong side
    assert answer(client, pnc, transfer, "accept").status_code == 403  # wrong side
    cancelled = answer(client, pnc, transfer, "cancel")
    assert cancelled.status_code == 200
    assert (cancelled.get_json()["status"], cancelled.get_json()["note"]) == ("cancelled", NOTE)
    assert answer(client, santa_ana, transfer, "accept").status_code == 409
    assert read(client, santa_ana, case_id).status_code == 404
    # Nothing pending any more: the lead may ask again.
    assert ask(client, pnc, case_id, institution_id(client, pnc, "UMM-STA")).status_code == 201


def test_one_pending_transfer_per_case_and_a_stale_version_loses(client, pnc, santa_ana, case_id):
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    again = ask(client, pnc, case_id, institution_id(client, pnc, "HOSP-SON"))
    assert again.status_code == 409
    stale = answer(client, santa_ana, transfer, "accept", version=transfer["version"] + 1)
    assert stale.status_code == 409


# ---- to a party; who may ask ---------------------------------------------------------


def test_a_transfer_to_a_party_moves_the_lead_and_the_former_lead_keeps_its_access(
    client, pnc, health, joined
):
    transfer = asked(client, pnc, joined, institution_id(client, pnc, "US-SON"))
    assert answer(client, health, transfer, "accept").status_code == 200
    record = read(client, health, joined).get_json()
    assert record["lead_institution"]["code"] == "US-SON"
    reasons = sorted(p["reason"] for p in record["parties"] if p["institution"] == "US-SON")
    assert reasons == ["matched_intake"]  # no second party row: it took part already
    assert read(client, pnc, joined).get_json()["access"] == "full"


def test_a_party_that_does_not_lead_may_not_ask(client, pnc, health, joined):
    response = ask(client, health, joined, institution_id(client, pnc, "UMM-SON"))
    assert response.status_code == 403


def test_a_case_the_caller_cannot_see_is_404(client, pnc, make_person, case_id):
    other = make_person("pnc_agent", "PNC-ACA")
    assert ask(client, other, case_id, institution_id(client, pnc, "UMM-STA")).status_code == 404


def test_a_new_institution_needs_her_recorded_consent(client, pnc, health, make_person):
    body = intake(consent={"share_with_network": False, "statistics": True, "police": True})
    response = client.post(f"{API}/cases", json=body, headers=pnc.headers)
    case_id = response.get_json()["id"]
    refused = ask(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    assert refused.status_code == 422
    assert "to_institution" in refused.get_json()["fields"]
    # A party shares her record already: it may take the lead without a new consent.
    client.post(f"{API}/cases", json=body, headers=health.headers)
    assert ask(client, pnc, case_id, institution_id(client, pnc, "US-SON")).status_code == 201


def test_a_minors_case_goes_to_the_prosecutor_without_consent_but_nowhere_else(
    client, pnc, make_person
):
    body = intake(
        survivor_overrides={"dui": None, "birth_date": "2012-05-01"},
        consent={"share_with_network": False, "statistics": False, "police": False},
    )
    case_id = client.post(f"{API}/cases", json=body, headers=pnc.headers).get_json()["id"]
    assert ask(client, pnc, case_id, institution_id(client, pnc, "UMM-STA")).status_code == 422
    prosecutor = make_person("prosecutor_staff", "FGR-STA")
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "FGR-STA"))
    assert answer(client, prosecutor, transfer, "accept").status_code == 200
    assert read(client, prosecutor, case_id).get_json()["access"] == "full"


def test_bad_input_is_422_with_fields(client, pnc, case_id):
    unknown = ask(client, pnc, case_id, 999_999)
    assert unknown.status_code == 422 and "to_institution" in unknown.get_json()["fields"]
    coordination = ask(client, pnc, case_id, institution_id(client, pnc, "RED-SON"))
    assert coordination.status_code == 422  # no case role works there
    own = ask(client, pnc, case_id, institution_id(client, pnc, "PNC-SON"))
    assert own.status_code == 422
    reason = ask(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"), reason="bored")
    assert reason.status_code == 422 and "reason" in reason.get_json()["fields"]


# ---- a target without case workers ---------------------------------------------------


def test_the_supervisor_of_a_target_without_case_workers_answers(client, pnc, make_person, case_id):
    fiscalia = make_person("supervisor", "FGR-STA", "supervisora.fgr.sta")
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "FGR-STA"))
    assert [row["id"] for row in box(client, fiscalia, "incoming")] == [transfer["id"]]
    assert answer(client, fiscalia, transfer, "accept").status_code == 200
    record = read(client, pnc, case_id).get_json()
    assert record["lead_institution"]["code"] == "FGR-STA"


def test_a_supervisor_whose_institution_has_case_workers_may_not_answer(
    client, pnc, santa_ana, make_person, case_id
):
    boss = make_person("supervisor", "UMM-STA", "supervisora.umm.sta")
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    assert answer(client, boss, transfer, "accept").status_code == 403
    assert client.get(f"{API}/transfers", headers=boss.headers).status_code == 403


# ---- notices and audit ---------------------------------------------------------------


def test_each_side_is_told_and_every_step_is_audited(app, client, pnc, santa_ana, case_id):
    first = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    assert kinds_told(client, santa_ana) == ["transfer_requested"]
    answer(client, pnc, first, "cancel")
    assert kinds_told(client, santa_ana) == ["transfer_cancelled", "transfer_requested"]
    second = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    answer(client, santa_ana, second, "accept")
    assert kinds_told(client, pnc) == ["transfer_answered"]
    assert audited(app, case_id) == [
        ("case_transfer", "agente.test", "to=UMM-STA;survivor_moved"),
        ("transfer_transition", "agente.test", "cancel->cancelled"),
        ("case_transfer", "agente.test", "to=UMM-STA;survivor_moved"),
        ("transfer_transition", "mujer.sta.test", "accept->accepted"),
    ]


# ---- the pages -----------------------------------------------------------------------


def test_the_lead_asks_on_the_page_and_the_target_accepts_in_the_inbox(
    app, client, pnc, health, santa_ana, joined
):
    lead, party = web(app, pnc), web(app, health)
    assert "Traspasar la coordinación" in lead.get(f"/cases/{joined}").get_data(as_text=True)
    assert "Traspasar la coordinación" not in party.get(f"/cases/{joined}").get_data(as_text=True)
    assert party.get(f"/cases/{joined}/transfer").status_code == 403

    form = f"/cases/{joined}/transfer"
    token = csrf_token(lead.get(form).get_data(as_text=True))
    refused = lead.post(form, data={"csrf_token": token, "to_institution": "", "note": NOTE})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Elija el motivo del traspaso." in page and NOTE in page  # kept what she typed
    to = str(institution_id(client, pnc, "UMM-STA"))
    done = lead.post(
        form, data={"csrf_token": token, "to_institution": to, "reason": "survivor_moved"}
    )
    assert done.status_code == 303 and done.location.endswith(f"/cases/{joined}#coordinacion")

    target = web(app, santa_ana)
    inbox = target.get("/referrals/transfers")
    assert inbox.status_code == 200
    html = inbox.get_data(as_text=True)
    assert "Ella se mudó" in html and NOTE not in html
    [row] = box(client, santa_ana, "incoming")
    path = f"/transfers/{row['id']}/transition"
    token = csrf_token(html)
    no_reason = target.post(path, data={"csrf_token": token, "action": "decline", "reason": ""})
    assert no_reason.status_code == 422
    assert "Indique por qué no acepta la coordinación del caso." in no_reason.get_data(as_text=True)
    accepted = target.post(path, data={"csrf_token": token, "action": "accept"})
    assert accepted.status_code == 302
    page = target.get(f"/cases/{joined}").get_data(as_text=True)
    assert "Unidad Municipal de la Mujer Santa Ana (demo)" in page
    assert "Traspasar la coordinación" in page


def test_the_lead_cancels_on_the_transfers_page(app, client, pnc, santa_ana, case_id):
    transfer = asked(client, pnc, case_id, institution_id(client, pnc, "UMM-STA"))
    lead = web(app, pnc)
    page = lead.get("/referrals/transfers").get_data(as_text=True)
    assert "Cancelar el traspaso" in page and transfer["case_number"] in page
    path = f"/transfers/{transfer['id']}/transition"
    cancelled = lead.post(path, data={"csrf_token": csrf_token(page), "action": "cancel"})
    assert cancelled.status_code == 302
    assert [row["status"] for row in box(client, pnc, "outgoing")] == ["cancelled"]
    # The target's page no longer offers an answer; a late one is refused (409 → the page).
    target = web(app, santa_ana)
    html = target.get("/referrals/transfers").get_data(as_text=True)
    assert "Aceptar la coordinación" not in html
    late = target.post(path, data={"csrf_token": csrf_token(html), "action": "accept"})
    assert late.status_code == 302 and late.location.endswith("/referrals/transfers")
    assert read(client, santa_ana, case_id).status_code == 404
