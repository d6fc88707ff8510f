"""The record's life cycle (issue 11, item 6): a closed case is read-only until it is
reopened with a reason; a new incident reopens it and tells every party; closing says
what it leaves open."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.cases.care_models import CaseStatusChange
from app.cases.record_models import Correction
from app.extensions import db
from app.notifications.models import Notification
from tests.auth_helpers import csrf_token, start_web_session
from tests.conftest import Person
from tests.factories import incident, intake, one_page_pdf

API = "/api/v1"
PDF = one_page_pdf()
CLOSED_MESSAGE = "El caso está cerrado: reábralo para añadir información."
ANSWERS = {str(n): n <= 2 for n in range(1, 25)}


@dataclass
class World:
    client: Any
    pnc: Person
    womens: Person
    case_id: str
    ids: dict[str, str]

    @property
    def base(self) -> str:
        return f"{API}/cases/{self.case_id}"

    def record(self, person: Person | None = None) -> dict[str, Any]:
        return self.client.get(self.base, headers=(person or self.pnc).headers).get_json()

    def set_status(self, status: str, reason: str | None, person: Person | None = None) -> Any:
        body = {"status": status, "reason": reason}
        return self.client.post(
            f"{self.base}/status", json=body, headers=(person or self.pnc).headers
        )


def institution_id(client, person, code: str) -> int:
    items = client.get(f"{API}/institutions", headers=person.headers).get_json()["items"]
    return next(item["id"] for item in items if item["code"] == code)


@pytest.fixture
def world(client, pnc, womens) -> World:
    """A case of PNC-SON and UMM-SON (both full) with two incidents, a pending follow-up,
    a complaint with a measure in force, and a live referral to the hospital."""
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    assert client.post(f"{API}/cases", json=intake(), headers=womens.headers).status_code == 201
    base = f"{API}/cases/{case_id}"
    second = client.post(
        f"{base}/incidents", json=incident(occurred_on="2026-10-12"), headers=pnc.headers
    )
    follow_up = client.post(
        f"{base}/follow-ups", json={"due_on": "2026-12-01", "channel": "visit"}, headers=pnc.headers
    )
    complaint = client.post(
        f"{base}/complaints",
        json={"number": "DEN-7", "measures": [{"measure": "keep_away", "granted": True}]},
        headers=pnc.headers,
    )
    referral = client.post(
        f"{base}/referrals",
        json={
            "to_institution": institution_id(client, pnc, "HOSP-SON"),
            "service": "medical",
            "urgency": "routine",
            "reason": "Control",
            "consent": True,
        },
        headers=pnc.headers,
    )
    for response in (second, follow_up, complaint, referral):
        assert response.status_code == 201, response.get_json()
    ids = {
        "incident_id": second.get_json()["id"],
        "follow_up_id": follow_up.get_json()["id"],
        "complaint_id": complaint.get_json()["id"],
        "measure_id": complaint.get_json()["measures"][0]["id"],
    }
    return World(client, pnc, womens, case_id, ids)


def survivor_version(w: World) -> int:
    return w.record()["survivor"]["version"]


def incident_version(w: World) -> int:
    return next(i for i in w.record()["incidents"] if i["id"] == w.ids["incident_id"])["version"]


# Every write to a closed case, each with what it answers once the case is reopened.
WRITES: dict[str, tuple[Callable[[World], Any], int]] = {
    "note": (
        lambda w: w.client.post(
            f"{w.base}/notes", json={"kind": "legal", "text": "Asesoría"}, headers=w.pnc.headers
        ),
        201,
    ),
    "follow_up": (
        lambda w: w.client.post(
            f"{w.base}/follow-ups",
            json={"due_on": "2026-12-20", "channel": "phone"},
            headers=w.pnc.headers,
        ),
        201,
    ),
    "follow_up_outcome": (
        lambda w: w.client.post(
            f"{w.base}/follow-ups/{w.ids['follow_up_id']}/outcome",
            json={"outcome": "done"},
            headers=w.pnc.headers,
        ),
        200,
    ),
    "risk_assessment": (
        lambda w: w.client.post(
            f"{w.base}/risk-assessments", json={"answers": ANSWERS}, headers=w.pnc.headers
        ),
        201,
    ),
    "safety_plan": (
        lambda w: w.client.put(
            f"{w.base}/safety-plan", json={"plan": "Palabra clave"}, headers=w.pnc.headers
        ),
        200,
    ),
    "attachment": (
        lambda w: w.client.post(
            f"{w.base}/attachments",
            data={"file": (io.BytesIO(PDF), "informe.pdf")},
            headers=w.pnc.headers,
        ),
        201,
    ),
    "complaint": (
        lambda w: w.client.post(
            f"{w.base}/complaints", json={"number": "DEN-8"}, headers=w.pnc.headers
        ),
        201,
    ),
    "measure": (
        lambda w: w.client.patch(
            f"{w.base}/measures/{w.ids['measure_id']}",
            json={"status": "breached"},
            headers=w.pnc.headers,
        ),
        200,
    ),
    "complaint_correction": (
        lambda w: w.client.patch(
            f"{w.base}/complaints/{w.ids['complaint_id']}",
            json={"number": "DEN-0007", "reason": "Mal copiado", "version": 1},
            headers=w.pnc.headers,
        ),
        200,
    ),
    "survivor_correction": (
        lambda w: w.client.patch(
            f"{w.base}/survivor",
            json={"phone": "7000-1111", "reason": "Número nuevo", "version": survivor_version(w)},
            headers=w.pnc.headers,
        ),
        200,
    ),
    "incident_correction": (
        lambda w: w.client.patch(
            f"{w.base}/incidents/{w.ids['incident_id']}",
            json={
                "place_type": "street",
                "reason": "Era en la calle",
                "version": incident_version(w),
            },
            headers=w.pnc.headers,
        ),
        200,
    ),
    "incident_void": (
        lambda w: w.client.post(
            f"{w.base}/incidents/{w.ids['incident_id']}/void",
            json={"reason": "Registrado dos veces"},
            headers=w.pnc.headers,
        ),
        200,
    ),
    "referral": (
        lambda w: w.client.post(
            f"{w.base}/referrals",
            json={
                "to_institution": institution_id(w.client, w.pnc, "PGR-SON"),
                "service": "legal_aid",
                "urgency": "routine",
                "reason": "Asesoría legal",
                "consent": True,
            },
            headers=w.pnc.headers,
        ),
        201,
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_to_a_closed_case_is_409_case_closed_until_it_is_reopened(world, write):
    call, reopened_status = WRITES[write]
    assert world.set_status("closed", "services_completed").status_code == 200
    refused = call(world)
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == "case_closed"
    assert refused.get_json()["message"] == CLOSED_MESSAGE
    assert world.set_status("open", "new_information").status_code == 200
    accepted = call(world)
    assert accepted.status_code == reopened_status, accepted.get_json()


def test_a_closed_case_is_still_read_downloaded_and_her_consent_still_recorded(world):
    upload = world.client.post(
        f"{world.base}/attachments",
        data={"file": (io.BytesIO(PDF), "informe.pdf")},
        headers=world.pnc.headers,
    ).get_json()
    assert world.set_status("closed", "survivor_request").status_code == 200
    read = world.client.get(world.base, headers=world.womens.headers)
    assert read.status_code == 200 and read.get_json()["status"] == "closed"
    download = world.client.get(
        f"{world.base}/attachments/{upload['id']}", headers=world.pnc.headers
    )
    assert download.status_code == 200
    revoked = world.client.post(
        f"{world.base}/consent", json={"share_with_network": False}, headers=world.pnc.headers
    )
    assert revoked.status_code == 201  # her word is never refused, closed or not
    assert world.record(world.womens)["access"] == "own_parts"


def test_closing_answers_what_is_still_open_and_closes_anyway(world):
    closed = world.set_status("closed", "services_completed")
    assert closed.status_code == 200, closed.get_json()
    answer = closed.get_json()
    assert answer["status"] == "closed"
    still = answer["still_open"]
    assert [f["id"] for f in still["follow_ups"]] == [world.ids["follow_up_id"]]
    assert [m["id"] for m in still["measures"]] == [world.ids["measure_id"]]
    assert [(r["to_institution"], r["status"]) for r in still["referrals"]] == [
        ("HOSP-SON", "sent")
    ]
    moved = world.set_status("open", "new_information").get_json()
    assert "still_open" not in moved


def test_reopening_needs_a_reason_a_code_kept_as_such_and_a_text_kept_sealed(app, world):
    assert world.set_status("closed", "lost_contact").status_code == 200
    missing = world.set_status("open", None)
    assert missing.status_code == 422 and "reason" in missing.get_json()["fields"]
    blank = world.set_status("open", "   ")
    assert blank.status_code == 422
    text = "Volvió a la oficina con su hermana"
    assert world.set_status("open", text).status_code == 200
    assert world.set_status("closed", "moved").status_code == 200
    assert world.set_status("open", "survivor_request").status_code == 200
    with app.app_context():
        reasons = db.session.execute(
            select(CaseStatusChange.to_status, CaseStatusChange.reason)
            .where(CaseStatusChange.case_id == uuid.UUID(world.case_id))
            .order_by(CaseStatusChange.id)
        ).all()
        sealed = db.session.execute(select(Correction)).scalars().all()
    assert [tuple(row) for row in reasons][-4:] == [
        ("closed", "lost_contact"),
        ("open", "other"),
        ("closed", "moved"),
        ("open", "survivor_request"),
    ]
    assert [row.object_type for row in sealed] == ["case"]
    assert text.encode() not in sealed[0].reason_enc
    history = world.record()["corrections"]
    assert history[-1]["reason"] == text
    assert history[-1]["changes"] == {"status": ["closed", "open"]}


def notified(app, case_id: str) -> list[tuple[int | None, int | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(Notification.institution_id, Notification.user_id).where(
                Notification.case_id == uuid.UUID(case_id), Notification.kind == "case_reopened"
            )
        ).all()
    return [tuple(row) for row in rows]


def test_a_new_incident_on_a_closed_case_reopens_it_and_tells_every_party(app, world, supervisor):
    assert world.set_status("closed", "services_completed").status_code == 200
    added = world.client.post(
        f"{world.base}/incidents",
        json=incident(occurred_on="2026-11-02"),
        headers=world.womens.headers,
    )
    assert added.status_code == 201, added.get_json()
    shown = world.record()
    assert shown["status"] == "open" and shown["close_reason"] is None
    assert shown["timeline"][-1]["kind"] in ("status", "incident")
    with app.app_context():
        last = (
            db.session.execute(
                select(CaseStatusChange)
                .where(CaseStatusChange.case_id == uuid.UUID(world.case_id))
                .order_by(CaseStatusChange.id.desc())
            )
            .scalars()
            .first()
        )
        assert (last.from_status, last.to_status, last.reason) == ("closed", "open", "new_incident")
    told = notified(app, world.case_id)
    institutions = {inst for inst, _ in told if inst is not None}
    assert len(institutions) == 2  # PNC-SON and UMM-SON, the live parties
    assert (None, supervisor.id) in told
    # Now open, the case takes notes again.
    note = world.client.post(
        f"{world.base}/notes", json={"kind": "legal", "text": "Asesoría"}, headers=world.pnc.headers
    )
    assert note.status_code == 201


def test_a_matched_intake_on_a_closed_case_reopens_it(app, client, pnc, health, supervisor):
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    closed = client.post(
        f"{API}/cases/{case_id}/status",
        json={"status": "closed", "reason": "services_completed"},
        headers=pnc.headers,
    )
    assert closed.status_code == 200
    joined = client.post(
        f"{API}/cases",
        json=intake(incident_overrides={"occurred_on": "2026-11-03"}),
        headers=health.headers,
    )
    assert joined.status_code == 201 and joined.get_json()["matched_existing"] is True
    assert client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["status"] == "open"
    told = notified(app, case_id)
    assert any(user == supervisor.id for _, user in told)
    assert len({inst for inst, _ in told if inst}) == 2


def test_a_new_incident_on_an_open_case_reopens_nothing(app, world):
    added = world.client.post(
        f"{world.base}/incidents",
        json=incident(occurred_on="2026-11-02"),
        headers=world.pnc.headers,
    )
    assert added.status_code == 201
    assert notified(app, world.case_id) == []


# ---- the pages --------------------------------------------------------------------------


def test_a_note_on_a_closed_case_page_says_so_in_place(app, client, world):
    assert world.set_status("closed", "services_completed").status_code == 200
    start_web_session(app, client, world.pnc.username)
    page = f"/cases/{world.case_id}"
    html = client.get(page).get_data(as_text=True)
    assert CLOSED_MESSAGE in html
    assert "Guardar nota" not in html and "Reabrir el caso" in html  # no note form offered
    token = csrf_token(html)
    refused = client.post(
        f"{page}/notes", data={"kind": "legal", "text": "Asesoría escrita", "csrf_token": token}
    )
    assert refused.status_code == 303 and refused.headers["Location"].endswith("#notas")
    shown = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert CLOSED_MESSAGE in shown
    assert "Asesoría escrita" in shown  # what she typed is kept
    risk = client.get(f"{page}/risk")
    assert risk.status_code == 409 and CLOSED_MESSAGE in risk.get_data(as_text=True)


def test_the_close_form_lists_what_is_still_open_and_the_page_reopens(app, client, world):
    start_web_session(app, client, world.pnc.username)
    page = f"/cases/{world.case_id}"
    html = client.get(f"{page}/forms/estado").get_data(as_text=True)
    assert "Antes de cerrar: esto sigue abierto" in html
    assert "HOSP-SON" in html and "Medida vigente" in html
    version = str(world.record()["version"])
    closed = client.post(
        f"{page}/status",
        data={
            "status": "closed",
            "reason": "services_completed",
            "version": version,
            "csrf_token": csrf_token(html),
        },
    )
    assert closed.status_code == 303
    html = client.get(page).get_data(as_text=True)
    version = str(world.record()["version"])
    no_reason = client.post(
        f"{page}/status",
        data={"status": "open", "version": version, "csrf_token": csrf_token(html)},
    )
    assert no_reason.status_code == 303
    shown = client.get(no_reason.headers["Location"]).get_data(as_text=True)
    assert "Indique por qué se reabre el caso." in shown
    reopened = client.post(
        f"{page}/status",
        data={
            "status": "open",
            "reopen_reason": "other",
            "reopen_note": "Pidió retomar la atención psicológica",
            "version": version,
            "csrf_token": csrf_token(html),
        },
    )
    assert reopened.status_code == 303
    assert world.record()["status"] == "open"
    assert world.record()["corrections"][-1]["reason"] == "Pidió retomar la atención psicológica"


def test_a_new_incident_page_on_a_closed_case_warns_and_reopens(app, client, world):
    assert world.set_status("closed", "services_completed").status_code == 200
    start_web_session(app, client, world.pnc.username)
    path = f"/cases/{world.case_id}/incidents/new"
    page = client.get(path)
    assert page.status_code == 200 and "al guardar este hecho se reabre" in page.get_data(
        as_text=True
    )
    saved = client.post(
        path,
        data={
            "occurred_on": "2026-11-04",
            "incident_municipality": "sonsonate",
            "violence_types": ["psychological"],
            "perpetrator_relationship": "former_partner",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert saved.status_code == 303
    assert world.record()["status"] == "open"
