"""The same write through the pages and through the API leaves the same audit rows.

Services write their own events from the `Caller` each face builds, so a note added on
the case page and one added with a token are one kind of event with one detail. Reads
(`case_view`, `referral_view`) differ by design — the page shows the record again after
each form — so the comparison is of what changed.
"""

from __future__ import annotations

import io
import re
import uuid

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import intake, one_page_pdf

API = "/api/v1"
READS = {"case_view", "referral_view", "case_search"}
PDF = one_page_pdf()
ANSWERS = {str(n): n <= 3 for n in range(1, 25)}
ADDED_ON = "2026-10-12"  # the incident added after intake: another day, not a repeat
NEW_PHONE = "7000-2222"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def written(app, case_id: str) -> list[tuple[str, str | None, str | None]]:
    with app.app_context():
        stmt = (
            select(AuditEvent.action, AuditEvent.object_type, AuditEvent.detail)
            .where(AuditEvent.case_id == uuid.UUID(case_id))
            .order_by(AuditEvent.id)
        )
        rows = db.session.execute(stmt).all()
    return [(a, t, UUID.sub("<id>", d or "")) for a, t, d in rows if a not in READS]


def institution_id(client, person, code: str) -> int:
    items = client.get(f"{API}/institutions", headers=person.headers).get_json()["items"]
    return next(item["id"] for item in items if item["code"] == code)


def through_api(client, person, hospital: int) -> str:
    body = intake({"dui": None, "given_names": "Rosa"})
    case_id = client.post(f"{API}/cases", json=body, headers=person.headers).get_json()["id"]
    base, h = f"{API}/cases/{case_id}", person.headers
    calls = [
        ("post", f"{base}/incidents", {**intake()["incident"], "occurred_on": ADDED_ON}),
        ("post", f"{base}/notes", {"kind": "legal", "text": "Asesoría", "given_on": "2026-11-30"}),
        ("post", f"{base}/follow-ups", {"due_on": "2026-12-20", "channel": "phone"}),
        ("post", f"{base}/risk-assessments", {"answers": ANSWERS}),
        ("put", f"{base}/safety-plan", {"plan": "Plan acordado"}),
        (
            "post",
            f"{base}/consent",
            {"share_with_network": True, "statistics": False, "police": True},
        ),
        ("post", f"{base}/complaints", {"number": "DEN-1", "filed_on": "2026-11-30"}),
    ]
    for method, path, json in calls:
        response = getattr(client, method)(path, json=json, headers=h)
        assert response.status_code in (200, 201), (path, response.get_json())
    read = client.get(base, headers=h).get_json()
    added = next(i for i in read["incidents"] if i["occurred_on"] == ADDED_ON)
    corrections = [
        (
            "patch",
            f"{base}/survivor",
            {"phone": NEW_PHONE, "reason": "Número nuevo", "version": read["survivor"]["version"]},
        ),
        (
            "patch",
            f"{base}/incidents/{added['id']}",
            {"occurred_on": "2026-10-11", "reason": "Fecha", "version": added["version"]},
        ),
        ("post", f"{base}/incidents/{added['id']}/void", {"reason": "Registrado dos veces"}),
    ]
    for method, path, json in corrections:
        response = getattr(client, method)(path, json=json, headers=h)
        assert response.status_code == 200, (path, response.get_json())
    follow_up = client.get(f"{base}", headers=h).get_json()["follow_ups"][0]["id"]
    assert (
        client.post(
            f"{base}/follow-ups/{follow_up}/outcome", headers=h, json={"outcome": "done"}
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"{base}/attachments", headers=h, data={"file": (io.BytesIO(PDF), "a.pdf")}
        ).status_code
        == 201
    )
    referral = client.post(
        f"{base}/referrals",
        headers=h,
        json={
            "to_institution": hospital,
            "service": "medical",
            "urgency": "routine",
            "reason": "Control",
            "consent": True,
        },
    ).get_json()["id"]
    assert (
        client.post(
            f"{API}/referrals/{referral}/transition", headers=h, json={"action": "cancel"}
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"{base}/status", headers=h, json={"status": "closed", "reason": "services_completed"}
        ).status_code
        == 200
    )
    return case_id


def through_pages(app, client, person, hospital: int) -> str:
    start_web_session(app, client, person.username)

    def post(path: str, form: dict, page: str | None = None) -> None:
        token = csrf_token(client.get(page or path).get_data(as_text=True))
        response = client.post(path, data={**form, "csrf_token": token})
        assert response.status_code in (302, 303), (path, response.status_code)

    incident = {
        "occurred_on": "2026-10-30",
        "incident_municipality": "sonsonate",
        "violence_types": ["physical", "psychological"],
        "perpetrator_relationship": "partner",
        "place_type": "home",
    }
    survivor = {
        "given_names": "Rosa Amelia",
        "family_names": "López Hernández",
        "birth_date": "1994-03-15",
        "sex": "F",
        "municipality": "sonsonate",
        "share_with_network": "y",
        "statistics": "y",
        "police": "y",
    }
    token = csrf_token(client.get("/cases/new").get_data(as_text=True))
    opened = client.post("/cases/new", data={**survivor, **incident, "csrf_token": token})
    assert opened.status_code == 303  # to the slip, shown by a GET
    case_id = UUID.search(opened.headers["Location"]).group(0)
    page = f"/cases/{case_id}"
    post(f"{page}/incidents/new", {**incident, "occurred_on": ADDED_ON})
    post(f"{page}/notes", {"kind": "legal", "text": "Asesoría", "given_on": "2026-11-30"}, page)
    post(f"{page}/follow-ups", {"due_on": "2026-12-20", "channel": "phone"}, page)
    post(f"{page}/risk", {f"q{k}": "yes" if v else "no" for k, v in ANSWERS.items()})
    post(f"{page}/safety-plan", {"plan": "Plan acordado"}, page)
    post(f"{page}/consent", {"share_with_network": "y", "police": "y"}, page)
    post(f"{page}/complaints", {"number": "DEN-1", "filed_on": "2026-11-30"}, page)
    read = client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()
    added = next(i for i in read["incidents"] if i["occurred_on"] == ADDED_ON)
    shown = ("given_names", "family_names", "birth_date", "sex", "municipality")
    identity = {f"fix-{name}": survivor[name] for name in shown}  # as the form shows them
    post(
        f"{page}/survivor",
        {
            **identity,
            "fix-phone": NEW_PHONE,
            "fix-reason": "Número nuevo",
            "fix-version": str(read["survivor"]["version"]),
        },
        page,
    )
    post(
        f"{page}/incidents/{added['id']}/edit",
        {**incident, "occurred_on": "2026-10-11", "reason": "Fecha", "version": added["version"]},
    )
    post(f"{page}/incidents/{added['id']}/void", {"reason": "Registrado dos veces"}, page)
    record = client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()
    post(f"{page}/follow-ups/{record['follow_ups'][0]['id']}/outcome", {"outcome": "done"}, page)
    token = csrf_token(client.get(page).get_data(as_text=True))
    upload = client.post(
        f"{page}/attachments", data={"file": (io.BytesIO(PDF), "a.pdf"), "csrf_token": token}
    )
    assert upload.status_code == 303
    post(
        f"{page}/referrals",
        {
            "to_institution": str(hospital),
            "service": "medical",
            "urgency": "routine",
            "reason": "Control",
            "consent": "y",
        },
        page,
    )
    referral = client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()["referrals"][
        0
    ]["id"]
    post(f"/referrals/{referral}/transition", {"action": "cancel"}, "/referrals?box=outgoing")
    version = client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()["version"]
    post(
        f"{page}/status",
        {"status": "closed", "reason": "services_completed", "version": str(version)},
        page,
    )
    return case_id


def test_every_write_leaves_the_same_audit_rows_through_both_faces(app, client, pnc):
    hospital = institution_id(client, pnc, "HOSP-SON")
    by_api = written(app, through_api(client, pnc, hospital))
    by_web = written(app, through_pages(app, app.test_client(), pnc, hospital))
    assert by_api == by_web
    assert len(by_api) >= 13
