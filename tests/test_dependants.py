"""Her children and dependants (issue 14, item 3): recorded through the API and the case
page, their names sealed, corrected with their version, read by the views that read the
facts of her case (a shelter learns only how many come with her); custody measures link
to them; a child exposed to violence is a mandatory report to child protection."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.dependant_models import Dependant
from app.core.time import local_today
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import intake
from tests.test_merge import approved, pair  # noqa: F401  (`pair` is a fixture)

API = "/api/v1"
CHILD = "Camila-ZETA"
NO_SHARING = {"share_with_network": False, "statistics": True, "police": False}


def ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def child(**overrides) -> dict:
    return {
        "given_names": CHILD,
        "family_names": "López",
        "age": 9,
        "relationship": "daughter",
        "lives_with_her": True,
        "witnessed_violence": "yes",
        "suffered_violence": "no",
        **overrides,
    }


def institutions(client, person) -> dict[str, int]:
    items = client.get(f"{API}/institutions", headers=person.headers).get_json()["items"]
    return {item["code"]: item["id"] for item in items}


def open_with_child(client, person, consent=None, **overrides) -> tuple[str, dict]:
    case = ok(
        client.post(f"{API}/cases", json=intake(consent=consent), headers=person.headers), 201
    )
    added = client.post(
        f"{API}/cases/{case['id']}/dependants", json=child(**overrides), headers=person.headers
    )
    return case["id"], ok(added, 201)


def refer(client, person, case_id, to, service, dependant_id, consent=False):
    body = {
        "to_institution": to,
        "service": service,
        "urgency": "immediate",
        "reason": "Aviso",
        "consent": consent,
        "dependant_id": dependant_id,
    }
    return client.post(f"{API}/cases/{case_id}/referrals", json=body, headers=person.headers)


def test_a_dependant_reads_back_and_her_name_is_sealed_in_the_database(app, client, pnc):
    case_id, added = open_with_child(client, pnc)
    assert added["age_group"] == "0-11" and added["needs_protection"] is True
    record = ok(client.get(f"{API}/cases/{case_id}", headers=pnc.headers))
    [shown] = record["dependants"]
    assert (shown["given_names"], shown["family_names"], shown["age"]) == (CHILD, "López", 9)
    assert shown["birth_year"] == local_today().year - 9
    assert record["dependants_summary"] == {"with_her": 1, "age_groups": {"0-11": 1}}
    with app.app_context():
        row = db.session.execute(select(Dependant)).scalar_one()
        assert CHILD.encode() not in row.given_names_enc
        assert b"L\xc3\xb3pez" not in (row.family_names_enc or b"")
        assert str(local_today().year - 9).encode() not in (row.birth_year_enc or b"")


def test_bad_input_is_422_with_its_fields(client, pnc):
    case = ok(client.post(f"{API}/cases", json=intake(), headers=pnc.headers), 201)
    answer = client.post(
        f"{API}/cases/{case['id']}/dependants",
        json={"given_names": "Ana", "relationship": "niece", "witnessed_violence": "maybe"},
        headers=pnc.headers,
    )
    assert answer.status_code == 422
    assert {"relationship", "witnessed_violence", "age"} <= set(answer.get_json()["fields"])


def test_a_patch_changes_what_was_sent_and_a_stale_version_is_409(client, pnc):
    case_id, added = open_with_child(client, pnc)
    path = f"{API}/cases/{case_id}/dependants/{added['id']}"
    changed = ok(
        client.patch(path, json={"suffered_violence": "yes", "version": 1}, headers=pnc.headers)
    )
    assert (changed["suffered_violence"], changed["given_names"], changed["version"]) == (
        "yes",
        CHILD,
        2,
    )
    stale = client.patch(path, json={"lives_with_her": False, "version": 1}, headers=pnc.headers)
    assert stale.status_code == 409


def test_a_custody_measure_links_to_the_child_and_another_measure_does_not(client, pnc):
    case_id, added = open_with_child(client, pnc)
    complaint = ok(
        client.post(
            f"{API}/cases/{case_id}/complaints",
            json={
                "number": "DEN-9",
                "measures": [{"measure": "custody_support"}, {"measure": "keep_away"}],
            },
            headers=pnc.headers,
        ),
        201,
    )
    custody, keep_away = (m["id"] for m in complaint["measures"])
    path = f"{API}/cases/{case_id}/dependants/{added['id']}"
    wrong = client.patch(path, json={"measure_ids": [keep_away], "version": 1}, headers=pnc.headers)
    assert wrong.status_code == 422 and "measure_ids" in wrong.get_json()["fields"]
    linked = ok(
        client.patch(path, json={"measure_ids": [custody], "version": 1}, headers=pnc.headers)
    )
    assert linked["measure_ids"] == [custody]


def test_a_measure_of_another_case_is_refused(client, pnc):
    case_id, added = open_with_child(client, pnc)
    other = ok(
        client.post(
            f"{API}/cases",
            json=intake({"dui": "04567891-1", "given_names": "Rosa", "birth_date": "1990-01-01"}),
            headers=pnc.headers,
        ),
        201,
    )
    complaint = ok(
        client.post(
            f"{API}/cases/{other['id']}/complaints",
            json={"number": "DEN-10", "measures": [{"measure": "custody_support"}]},
            headers=pnc.headers,
        ),
        201,
    )
    path = f"{API}/cases/{case_id}/dependants/{added['id']}"
    answer = client.patch(
        path,
        json={"measure_ids": [complaint["measures"][0]["id"]], "version": 1},
        headers=pnc.headers,
    )
    assert answer.status_code == 422


def test_another_institution_cannot_add_or_see_them(client, pnc, make_person):
    case_id, added = open_with_child(client, pnc)
    outsider = make_person("pnc_agent", "PNC-ACA")
    assert (
        client.post(f"{API}/cases/{case_id}/dependants", json=child(), headers=outsider.headers)
    ).status_code == 404
    patch = client.patch(
        f"{API}/cases/{case_id}/dependants/{added['id']}",
        json={"version": 1},
        headers=outsider.headers,
    )
    assert patch.status_code == 404


@pytest.fixture
def receivers(client, pnc, make_person):
    """The case with a child, received and accepted by a court and by a shelter."""
    ids = institutions(client, pnc)
    case_id, _added = open_with_child(client, pnc)
    people = {
        "court_staff": (make_person("court_staff", "JUZ-SON"), "JUZ-SON", "protection_measures"),
        "shelter_staff": (make_person("shelter_staff", "ALB-SON"), "ALB-SON", "shelter"),
    }
    for person, code, service in people.values():
        referral = ok(refer(client, pnc, case_id, ids[code], service, None, consent=True), 201)
        ok(
            client.post(
                f"{API}/referrals/{referral['id']}/transition",
                json={"action": "accept"},
                headers=person.headers,
            )
        )
    return case_id, {role: person for role, (person, _c, _s) in people.items()}


def test_a_court_reads_her_children_and_a_shelter_only_how_many_come_with_her(
    app, client, receivers
):
    case_id, people = receivers
    court = ok(client.get(f"{API}/cases/{case_id}", headers=people["court_staff"].headers))
    assert [d["given_names"] for d in court["dependants"]] == [CHILD]
    shelter = ok(client.get(f"{API}/cases/{case_id}", headers=people["shelter_staff"].headers))
    assert shelter["access"] == "full"
    assert shelter["dependants"] == []
    assert shelter["dependants_summary"] == {"with_her": 1, "age_groups": {"0-11": 1}}
    assert CHILD not in repr(shelter)
    start_web_session(app, client, people["shelter_staff"].username)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Viven con ella: 1" in page and CHILD not in page


def test_the_supervisor_metadata_view_carries_no_children(client, pnc, supervisor):
    case_id, _ = open_with_child(client, pnc)
    record = ok(client.get(f"{API}/cases/{case_id}", headers=supervisor.headers))
    assert not record.get("dependants") and CHILD not in repr(record)


def test_the_case_page_records_a_child(app, client, pnc):
    case = ok(client.post(f"{API}/cases", json=intake(), headers=pnc.headers), 201)
    start_web_session(app, client, pnc.username)
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(page),
        "given_names": CHILD,
        "age": "4",
        "relationship": "son",
        "lives_with_her": "yes",
        "witnessed_violence": "yes",
        "suffered_violence": "unknown",
    }
    sent = client.post(f"/cases/{case['id']}/dependants", data=form)
    assert sent.status_code == 303
    shown = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert CHILD in shown and "aviso obligatorio a protección de la niñez" in shown
    refused = client.post(
        f"/cases/{case['id']}/dependants", data={**form, "relationship": "", "age": ""}
    )
    assert refused.status_code == 303
    again = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Indique el año de nacimiento o la edad." in again


def test_a_child_protection_referral_for_an_exposed_child_goes_without_her_consent(
    app, client, pnc, make_person
):
    ids = institutions(client, pnc)
    case_id, added = open_with_child(client, pnc, consent=NO_SHARING)
    sent = ok(refer(client, pnc, case_id, ids["PGR-SON"], "child_protection", added["id"]), 201)
    assert sent["mandatory_report"] is True and sent["consent"] is False
    assert sent["for_dependant"] == {"age_group": "0-11"}
    receiver = make_person("legal_aid_staff", "PGR-SON")
    start_web_session(app, client, receiver.username)
    inbox = client.get("/referrals").get_data(as_text=True)
    assert "Referencia por un/a menor a cargo (0-11)" in inbox and CHILD not in inbox
    sheet = client.get(f"/referrals/{sent['id']}/sheet").get_data(as_text=True)
    assert "Referencia por un/a menor a cargo" in sheet and CHILD not in sheet
    assert "una niña o niño a su cargo presenció o sufrió violencia" in sheet
    # Her own record does not open to the receiver without her consent.
    ok(
        client.post(
            f"{API}/referrals/{sent['id']}/transition",
            json={"action": "accept"},
            headers=receiver.headers,
        )
    )
    record = ok(client.get(f"{API}/cases/{case_id}", headers=receiver.headers))
    assert record["access"] == "own_parts" and CHILD not in repr(record)


def test_other_referrals_for_a_child_wait_on_her_consent(client, pnc):
    ids = institutions(client, pnc)
    case_id, added = open_with_child(client, pnc, consent=NO_SHARING)
    psychological = refer(client, pnc, case_id, ids["UMM-SON"], "psychological", added["id"])
    assert psychological.status_code == 422 and "consent" in psychological.get_json()["fields"]


def test_a_child_who_was_not_exposed_is_no_mandatory_report(client, pnc):
    ids = institutions(client, pnc)
    case_id, added = open_with_child(
        client, pnc, consent=NO_SHARING, witnessed_violence="no", suffered_violence="unknown"
    )
    answer = refer(client, pnc, case_id, ids["PGR-SON"], "child_protection", added["id"])
    assert answer.status_code == 422


def test_an_adult_dependant_is_no_mandatory_report(client, pnc):
    ids = institutions(client, pnc)
    case_id, added = open_with_child(client, pnc, consent=NO_SHARING, age=None, birth_year=1990)
    assert added["needs_protection"] is False
    answer = refer(client, pnc, case_id, ids["PGR-SON"], "child_protection", added["id"])
    assert answer.status_code == 422


def test_a_referral_naming_a_dependant_of_another_case_is_422(client, pnc):
    ids = institutions(client, pnc)
    case_id, _added = open_with_child(client, pnc)
    answer = refer(
        client, pnc, case_id, ids["PGR-SON"], "child_protection", str(uuid.uuid4()), consent=True
    )
    assert answer.status_code == 422 and "dependant_id" in answer.get_json()["fields"]


def dependant_events(app, case_id: str) -> list[tuple]:
    with app.app_context():
        stmt = (
            select(AuditEvent.action, AuditEvent.object_type, AuditEvent.detail)
            .where(AuditEvent.case_id == uuid.UUID(case_id), AuditEvent.object_type == "dependant")
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in db.session.execute(stmt).all()]


def test_both_faces_leave_the_same_audit_row(app, client, pnc):
    by_api, _ = open_with_child(client, pnc)
    other = intake({"dui": None, "given_names": "Rosa"})
    by_web = ok(client.post(f"{API}/cases", json=other, headers=pnc.headers), 201)["id"]
    start_web_session(app, client, pnc.username)
    token = csrf_token(client.get(f"/cases/{by_web}").get_data(as_text=True))
    form = {"csrf_token": token, "given_names": CHILD, "age": "9", "relationship": "daughter"}
    assert client.post(f"/cases/{by_web}/dependants", data=form).status_code == 303
    assert dependant_events(app, by_api) == dependant_events(app, by_web)
    assert dependant_events(app, by_api) == [("case_update", "dependant", "dependant:add")]


def test_the_page_refers_a_child_to_child_protection_without_her_consent(app, client, pnc):
    ids = institutions(client, pnc)
    case_id, added = open_with_child(client, pnc, consent=NO_SHARING)
    start_web_session(app, client, pnc.username)
    page = client.get(f"/cases/{case_id}/forms/remisiones").get_data(as_text=True)
    assert f'<option value="{added["id"]}">{CHILD} (0-11)</option>' in page
    form = {
        "csrf_token": csrf_token(page),
        "to_institution": str(ids["PGR-SON"]),
        "service": "child_protection",
        "urgency": "immediate",
        "reason": "Aviso obligatorio",
        "dependant_id": added["id"],
    }
    sent = client.post(f"/cases/{case_id}/referrals", data=form)
    assert sent.status_code == 303 and "/sheet" in sent.headers["Location"]
    sheet = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Referencia por un/a menor a cargo" in sheet
    refused = client.post(
        f"/cases/{case_id}/referrals",
        data={**form, "to_institution": str(ids["UMM-SON"]), "service": "psychological"},
    )
    assert refused.status_code == 303 and "/sheet" not in refused.headers["Location"]


def test_a_merge_brings_her_children_to_the_record_that_stays(
    client,
    pnc,
    supervisor,
    pair,
):
    absorbed = f"{API}/cases/{pair['b']['id']}/dependants"
    ok(client.post(absorbed, json=child(), headers=pnc.headers), 201)
    approved(client, pnc, supervisor, pair)
    kept = ok(client.get(f"{API}/cases/{pair['a']['id']}", headers=pnc.headers))
    assert [d["given_names"] for d in kept["dependants"]] == [CHILD]
