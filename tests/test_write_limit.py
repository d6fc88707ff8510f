"""The per-user cap on case writes (RUTA_CASE_WRITES_PER_HOUR, 600 in a rolling hour, an
upload weighing 10): the next write is refused with 429 `too_many_writes` and stores
nothing, the supervisors hear of it once an hour, every refusal is audited, and nobody
else is slowed down. It runs on the read cap's window (app/auth/hourly_cap.py)."""

from __future__ import annotations

import io

import pytest
from limits.storage import MemoryStorage
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.write_limit import WEIGHTS, TooManyWrites, WriteLimit
from app.cases.care_models import CareNote
from app.extensions import db, limiter
from app.notifications.models import Notification
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import intake, one_page_pdf

API = "/api/v1"
NOTE = {"kind": "legal", "text": "Asesoría", "given_on": "2026-11-30"}


@pytest.fixture(autouse=True)
def fresh_limits(app):
    with app.app_context():
        limiter.reset()


@pytest.fixture
def case_id(client, pnc) -> str:
    created = client.post(f"{API}/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def _note(client, person, case_id: str):
    return client.post(f"{API}/cases/{case_id}/notes", json=NOTE, headers=person.headers)


def _told(app, supervisor) -> int:
    return _count(
        app,
        Notification,
        Notification.user_id == supervisor.id,
        Notification.kind == "write_limit",
    )


def test_the_default_cap_is_600_writes_an_hour(app):
    assert app.config["RUTA_CASE_WRITES_PER_HOUR"] == 600


def test_a_write_past_the_cap_is_refused_stores_nothing_and_supervisors_are_told(
    app, client, pnc, supervisor, make_person, case_id
):
    # A new cap is a new window: the fixture's intake is not in this one.
    app.config["RUTA_CASE_WRITES_PER_HOUR"] = 3
    for n in range(3):
        assert _note(client, pnc, case_id).status_code == 201, f"note {n + 1}"
    refused = _note(client, pnc, case_id)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"] == "too_many_writes"
    assert "3" in body["message"] and "supervisora" in body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert _count(app, CareNote) == 3, "the refused note is not stored"
    assert _told(app, supervisor) == 1
    assert _count(app, AuditEvent, AuditEvent.action == "write_limit") == 1
    # Refused again: audited again, told no more this hour.
    assert _note(client, pnc, case_id).status_code == 429
    assert _told(app, supervisor) == 1
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.detail, AuditEvent.username, AuditEvent.object_type)
            .where(AuditEvent.action == "write_limit")
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(d) for d in details] == [
        ("per_hour=3;notified=1", pnc.username, "note"),
        ("per_hour=3;notified=0", pnc.username, "note"),
    ]
    # Reading goes on, and so does a colleague's writing.
    assert client.get(f"{API}/cases/{case_id}", headers=pnc.headers).status_code == 200
    colleague = make_person("pnc_agent", "PNC-SON")
    assert client.post(f"{API}/cases", json=intake(), headers=colleague.headers).status_code in (
        200,
        201,
    )


def test_intakes_and_referrals_count_too(app, client, pnc, case_id):
    app.config["RUTA_CASE_WRITES_PER_HOUR"] = 2
    institutions = client.get(f"{API}/institutions", headers=pnc.headers).get_json()["items"]
    hospital = next(i["id"] for i in institutions if i["code"] == "US-SON")
    referral = {
        "to_institution": hospital,
        "service": "medical",
        "urgency": "routine",
        "reason": "Atención por lesiones",
        "consent": True,
    }
    sent = client.post(f"{API}/cases/{case_id}/referrals", json=referral, headers=pnc.headers)
    assert sent.status_code in (201, 422), sent.get_json()  # counted either way
    other = intake(survivor_overrides={"given_names": "Otra", "dui": None})
    assert client.post(f"{API}/cases", json=other, headers=pnc.headers).status_code == 201
    again = client.post(f"{API}/cases", json=intake(), headers=pnc.headers)
    assert again.status_code == 429
    assert again.get_json()["error"] == "too_many_writes"


def test_an_upload_weighs_ten_writes(app, client, pnc, case_id):
    app.config["RUTA_CASE_WRITES_PER_HOUR"] = 11  # upload 10 + note 1
    upload = client.post(
        f"{API}/cases/{case_id}/attachments",
        headers=pnc.headers,
        data={"file": (io.BytesIO(one_page_pdf()), "informe.pdf")},
    )
    assert upload.status_code == 201, upload.get_json()
    assert _note(client, pnc, case_id).status_code == 201
    assert _note(client, pnc, case_id).status_code == 429


def test_the_case_page_over_the_cap_explains_itself(app, pnc, case_id):
    app.config["RUTA_CASE_WRITES_PER_HOUR"] = 1
    browser = app.test_client()
    start_web_session(app, browser, pnc.username)
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    first = browser.post(f"/cases/{case_id}/notes", data={**NOTE, "csrf_token": csrf_token(page)})
    assert first.status_code == 303
    refused = browser.post(f"/cases/{case_id}/notes", data={**NOTE, "csrf_token": csrf_token(page)})
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    assert "Límite de registros alcanzado" in text
    assert "Registró más de 1 datos en la última hora" in text
    assert refused.headers.get("Retry-After")
    assert _count(app, CareNote) == 1


def test_weights_make_an_upload_ten_writes():
    assert WEIGHTS["upload"] == 10
    assert {k for k, v in WEIGHTS.items() if v == 1} == {
        "intake",
        "incident",
        "note",
        "follow_up",
        "risk",
        "complaint",
        "referral",
        "transfer",
    }
    cap = WriteLimit(MemoryStorage(), per_hour=11, prefix="unit")
    cap.charge(7, "upload")
    cap.charge(7, "note")
    with pytest.raises(TooManyWrites) as refused:
        cap.charge(7, "intake")
    assert refused.value.notify is True
    cap.charge(8, "note")  # someone else is untouched
