"""Each role's minimum view (issue 13, DOMAIN.md): a prosecutor, a court, a legal-aid and a
shelter worker each receive, accept, work and complete a referral, and then read exactly
the parts of the record their role reads — through the API and the case page. The rule
is `app/cases/policy.py::ROLE_PARTS`; the expectations are written out here, so a change
of that table fails a test."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from app.cases.policy import PART_KINDS
from tests.auth_helpers import otp, web_login
from tests.conftest import PASSWORD, Person
from tests.factories import intake, one_page_pdf

API = "/api/v1"
NEW_ROLES = {
    "prosecutor_staff": ("FGR-SON", "prosecution"),
    "court_staff": ("JUZ-SON", "protection_measures"),
    "legal_aid_staff": ("PGR-SON", "legal_aid"),
    "shelter_staff": ("ALB-SON", "shelter"),
}
NARRATIVE = "RELATO-ZETA de los hechos"
NOTES = {kind: f"NOTA-{kind.upper()}-ZETA" for kind in ("medical", "forensic", "psychological")}
OFFICE_NOTES = {kind: f"NOTA-{kind.upper()}-ZETA" for kind in ("legal", "social", "shelter")}
PLAN = "PLAN-ZETA salir por la puerta trasera"
COMPLAINT = "DEN-ZETA-0077"
# Written out here, not read from the policy: a test that compared the policy with itself
# could not fail. DOMAIN.md: a court reads the complaint, measures and risk, never health
# or psychological notes; a shelter the safety plan, not the forensic findings.
EXPECTED = {
    "prosecutor_staff": {
        "incidents",
        "notes:forensic",
        "notes:legal",
        "safety_plan",
        "attachments",
        "complaints",
    },
    "court_staff": {"incidents", "notes:legal", "complaints"},
    "legal_aid_staff": {"incidents", "notes:legal", "notes:social", "safety_plan", "complaints"},
    "shelter_staff": {"notes:shelter", "notes:social", "follow_ups", "safety_plan", "complaints"},
}
# What of each part a reader finds, in the API's record and on the page.
MARKERS = {
    "incidents": NARRATIVE,
    **{f"notes:{kind}": text for kind, text in {**NOTES, **OFFICE_NOTES}.items()},
    "safety_plan": PLAN,
    "complaints": COMPLAINT,
}


@dataclass
class World:
    case_id: str
    ids: dict[str, int]


def ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def refer_and_accept(client, sender: Person, receiver: Person, world: World, service: str):
    body = {
        "to_institution": world.ids[receiver.institution],
        "service": service,
        "urgency": "routine",
        "reason": "Necesita su atención",
        "consent": True,
    }
    referral = ok(
        client.post(f"{API}/cases/{world.case_id}/referrals", json=body, headers=sender.headers),
        201,
    )
    move = f"{API}/referrals/{referral['id']}/transition"
    ok(client.post(move, headers=receiver.headers, json={"action": "accept"}))
    return referral["id"]


@pytest.fixture
def world(client, pnc, health, womens) -> World:
    items = client.get(f"{API}/institutions", headers=pnc.headers).get_json()["items"]
    ids = {item["code"]: item["id"] for item in items}
    opened = ok(
        client.post(
            f"{API}/cases",
            json=intake(incident_overrides={"narrative": NARRATIVE}),
            headers=pnc.headers,
        ),
        201,
    )
    world = World(opened["id"], ids)
    base = f"{API}/cases/{world.case_id}"
    ok(client.post(f"{base}/complaints", headers=pnc.headers, json={"number": COMPLAINT}), 201)
    refer_and_accept(client, pnc, health, world, "medical")
    for kind, text in NOTES.items():
        ok(
            client.post(f"{base}/notes", headers=health.headers, json={"kind": kind, "text": text}),
            201,
        )
    ok(
        client.post(
            f"{base}/attachments",
            headers=health.headers,
            data={"file": (io.BytesIO(one_page_pdf()), "informe.pdf")},
        ),
        201,
    )
    refer_and_accept(client, pnc, womens, world, "psychological")
    for kind, text in OFFICE_NOTES.items():
        ok(
            client.post(f"{base}/notes", headers=womens.headers, json={"kind": kind, "text": text}),
            201,
        )
    ok(client.put(f"{base}/safety-plan", headers=womens.headers, json={"plan": PLAN}))
    ok(
        client.post(
            f"{base}/follow-ups",
            headers=womens.headers,
            json={"due_on": "2026-12-20", "channel": "visit"},
        ),
        201,
    )
    return world


def found_parts(record: dict) -> set[str]:
    """The parts others wrote that this record shows."""
    text = repr(record)
    shown = {part for part, marker in MARKERS.items() if marker in text}
    if record["follow_ups"]:
        shown.add("follow_ups")
    if record["attachments"]:
        shown.add("attachments")
    return shown


@pytest.mark.parametrize("role", sorted(NEW_ROLES))
def test_each_justice_and_shelter_role_works_a_referral_and_reads_only_its_parts(
    app, client, make_person, womens, world, role
):
    institution, service = NEW_ROLES[role]
    worker = make_person(role, institution)
    referral_id = refer_and_accept(client, womens, worker, world, service)
    move = f"{API}/referrals/{referral_id}/transition"
    ok(client.post(move, headers=worker.headers, json={"action": "start"}))
    own_note = f"NOTA-PROPIA-{role}"
    ok(
        client.post(
            f"{API}/cases/{world.case_id}/notes",
            headers=worker.headers,
            json={"kind": "medical", "text": own_note},
        ),
        201,
    )
    done = {"action": "complete", "done": "Atención brindada", "next_step": "Audiencia"}
    assert ok(client.post(move, headers=worker.headers, json=done))["status"] == "completed"

    record = ok(client.get(f"{API}/cases/{world.case_id}", headers=worker.headers))

    assert record["access"] == "full"
    assert found_parts(record) == EXPECTED[role]
    assert record["parts_withheld"] == [p for p in PART_KINDS if p not in EXPECTED[role]]
    assert own_note in repr(record["notes"])  # what her institution wrote, always
    assert record["survivor"]["given_names"]  # her identity and the risk: every full party
    assert "risk" in record

    web_login(client, worker.username, PASSWORD, otp(worker.totp_secret))
    html = client.get(f"/cases/{world.case_id}").get_data(as_text=True)
    for part, marker in MARKERS.items():
        assert (marker in html) == (part in EXPECTED[role]), part
    assert own_note in html
    assert 'id="vista-minima"' in html


@pytest.mark.parametrize("role", ["pnc_agent", "health_staff", "womens_office"])
def test_the_front_line_reads_every_part_and_is_told_nothing_is_withheld(
    client, pnc, health, womens, world, role
):
    reader = {"pnc_agent": pnc, "health_staff": health, "womens_office": womens}[role]
    record = ok(client.get(f"{API}/cases/{world.case_id}", headers=reader.headers))
    assert found_parts(record) == set(PART_KINDS)
    assert record["parts_withheld"] == []


def test_the_court_changes_a_measure_and_the_shelter_may_not(
    client, make_person, womens, pnc, world
):
    base = f"{API}/cases/{world.case_id}"
    filed = ok(
        client.post(
            f"{base}/complaints",
            headers=pnc.headers,
            json={"number": "DEN-ZETA-0078", "measures": [{"measure": "keep_away"}]},
        ),
        201,
    )
    measure = filed["measures"][0]
    court = make_person("court_staff", "JUZ-SON")
    shelter = make_person("shelter_staff", "ALB-SON")
    refer_and_accept(client, womens, court, world, "protection_measures")
    refer_and_accept(client, womens, shelter, world, "shelter")
    change = {"status": "active", "granted": True, "version": measure["version"]}
    url = f"{base}/measures/{measure['id']}"
    assert client.patch(url, headers=shelter.headers, json=change).status_code == 403
    assert ok(client.patch(url, headers=court.headers, json=change))["status"] == "active"
    # A court orders measures; it does not receive complaints.
    refused = client.post(f"{base}/complaints", headers=court.headers, json={"number": "X-9"})
    assert refused.status_code == 403


def test_users_create_takes_each_new_role_at_its_own_kind_only(app):
    runner = app.test_cli_runner()
    for role, (institution, _service) in NEW_ROLES.items():
        made = runner.invoke(
            args=["users", "create", f"u.{role}", "--institution", institution, "--role", role]
        )
        assert made.exit_code == 0, made.output
        wrong = runner.invoke(
            args=["users", "create", f"w.{role}", "--institution", "PNC-SON", "--role", role]
        )
        assert wrong.exit_code == 1


# ---- a referral to an institution without case workers -----------------------------------


def test_a_supervisor_answers_for_her_institution_only_while_it_has_no_case_workers(
    client, make_person, womens, world
):
    fiscal_supervisor = make_person("supervisor", "FGR-SON")
    other_supervisor = make_person("supervisor", "PGR-SON")
    referral_id = refer_and_accept_later(client, womens, "FGR-SON", world, "prosecution")
    move = f"{API}/referrals/{referral_id}/transition"

    inbox = ok(client.get(f"{API}/referrals?box=incoming", headers=fiscal_supervisor.headers))
    assert [item["id"] for item in inbox["items"]] == [referral_id]
    not_hers = client.post(move, headers=other_supervisor.headers, json={"action": "accept"})
    assert not_hers.status_code == 403  # as for any id: nothing said of whether it exists
    ok(client.post(move, headers=fiscal_supervisor.headers, json={"action": "accept_and_start"}))
    done = {"action": "complete", "done": "Requerimiento presentado", "next_step": "Audiencia"}
    completed = ok(client.post(move, headers=fiscal_supervisor.headers, json=done))
    assert completed["status"] == "completed"
    # Her record still does not open for a supervisor: she answered the referral only.
    assert (
        client.get(f"{API}/cases/{world.case_id}", headers=fiscal_supervisor.headers).get_json()[
            "access"
        ]
        == "metadata"
    )


def test_once_the_institution_has_a_case_worker_its_supervisor_no_longer_moves_referrals(
    client, make_person, womens, world
):
    fiscal_supervisor = make_person("supervisor", "FGR-SON")
    make_person("prosecutor_staff", "FGR-SON")
    referral_id = refer_and_accept_later(client, womens, "FGR-SON", world, "prosecution")
    move = f"{API}/referrals/{referral_id}/transition"
    refused = client.post(move, headers=fiscal_supervisor.headers, json={"action": "accept"})
    assert refused.status_code == 403


def test_the_sender_tracks_a_referral_to_an_institution_whose_only_user_is_a_supervisor(
    client, make_person, womens, world
):
    make_person("supervisor", "FGR-SON")
    referral_id = refer_and_accept_later(client, womens, "FGR-SON", world, "prosecution")
    referral = ok(client.get(f"{API}/referrals/{referral_id}", headers=womens.headers))
    assert referral["tracked_by_sender"] is True
    move = f"{API}/referrals/{referral_id}/transition"
    ok(client.post(move, headers=womens.headers, json={"action": "accept_and_start"}))
    done = {"action": "complete", "done": "La fiscalía recibió el caso", "next_step": "Esperar"}
    assert ok(client.post(move, headers=womens.headers, json=done))["status"] == "completed"


def refer_and_accept_later(client, sender: Person, code: str, world: World, service: str) -> str:
    body = {
        "to_institution": world.ids[code],
        "service": service,
        "urgency": "routine",
        "reason": "Necesita su atención",
        "consent": True,
    }
    url = f"{API}/cases/{world.case_id}/referrals"
    return ok(client.post(url, json=body, headers=sender.headers), 201)["id"]
