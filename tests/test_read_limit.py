"""The per-user cap on case reads (RUTA_CASE_READS_PER_HOUR, 300 in a rolling hour): the
next read is refused with 429, the supervisors hear of it once an hour, the refusal is
audited, and nobody else is slowed down."""

from __future__ import annotations

import time
import uuid

import pytest
from limits.storage import MemoryStorage
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.read_limit import WEIGHTS, ReadLimit, TooManyReads
from app.extensions import db, limiter
from app.notifications.models import Notification
from tests.auth_helpers import start_web_session
from tests.factories import intake


@pytest.fixture(autouse=True)
def fresh_limits(app):
    with app.app_context():
        limiter.reset()


@pytest.fixture
def case_id(client, pnc) -> str:
    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def _read(client, person, case_id: str):
    return client.get(f"/api/v1/cases/{case_id}", headers=person.headers)


def _told(app, supervisor) -> list[Notification]:
    with app.app_context():
        stmt = select(Notification).where(
            Notification.user_id == supervisor.id, Notification.kind == "read_limit"
        )
        rows = list(db.session.execute(stmt).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def test_the_301st_read_in_an_hour_is_refused_and_supervisors_are_told(
    app, client, pnc, supervisor, make_person, case_id
):
    assert app.config["RUTA_CASE_READS_PER_HOUR"] == 300
    for n in range(300):
        assert _read(client, pnc, case_id).status_code == 200, f"read {n + 1}"
    refused = _read(client, pnc, case_id)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"] == "too_many_reads"
    assert "300" in body["message"] and "supervisora" in body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert "survivor" not in body, "nothing of the record"
    # Told, and audited; the refused read left no case_view.
    [note] = _told(app, supervisor)
    assert note.reference == pnc.username and note.case_id is None
    assert _count(app, AuditEvent, AuditEvent.action == "case_view") == 300
    assert _count(app, AuditEvent, AuditEvent.action == "read_limit") == 1
    # Another user of the same unit reads on.
    colleague = make_person("pnc_agent", "PNC-SON")
    assert _read(client, colleague, case_id).status_code == 200


def test_supervisors_are_told_once_an_hour_but_every_refusal_is_audited(
    app, client, pnc, supervisor, case_id
):
    app.config["RUTA_CASE_READS_PER_HOUR"] = 3
    for _ in range(3):
        assert _read(client, pnc, case_id).status_code == 200
    for _ in range(3):
        assert _read(client, pnc, case_id).status_code == 429
    assert len(_told(app, supervisor)) == 1
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.detail, AuditEvent.username)
            .where(AuditEvent.action == "read_limit")
            .order_by(AuditEvent.id)
        ).all()
    assert [d for d, _ in details] == [
        "per_hour=3;notified=1",
        "per_hour=3;notified=0",
        "per_hour=3;notified=0",
    ]
    assert {u for _, u in details} == {pnc.username}


def test_the_case_page_over_the_cap_explains_itself(app, pnc, case_id):
    app.config["RUTA_CASE_READS_PER_HOUR"] = 2
    browser = app.test_client()
    start_web_session(app, browser, pnc.username)
    for _ in range(2):
        assert browser.get(f"/cases/{case_id}").status_code == 200
    refused = browser.get(f"/cases/{case_id}")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Límite de lecturas alcanzado" in page
    assert "Abrió más de 2 expedientes en la última hora" in page
    assert refused.headers.get("Retry-After")


def test_probing_case_ids_counts_too(app, client, pnc, case_id):
    """Guessing ids is a way of reading: the refused answers count like the others."""
    app.config["RUTA_CASE_READS_PER_HOUR"] = 2
    for _ in range(2):
        assert _read(client, pnc, str(uuid.uuid4())).status_code == 404
    assert _read(client, pnc, case_id).status_code == 429


# ---- the window itself, on the limits library's memory storage --------------------------


@pytest.fixture
def clock(monkeypatch):
    """Time that moves only when the test says so (the memory storage reads time.time)."""
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_the_hour_rolls(clock):
    cap = ReadLimit(MemoryStorage(), per_hour=3, prefix="unit")
    for _ in range(3):
        cap.charge(7, "case")
        clock[0] += 600  # reads at 0, 10 and 20 minutes
    with pytest.raises(TooManyReads) as refused:
        cap.charge(7, "case")  # at 30 minutes
    assert refused.value.notify is True
    assert 1700 <= refused.value.retry_after <= 1801, "the first read leaves the hour at 60'"
    cap.charge(8, "case")  # someone else is untouched
    clock[0] += 1801  # 60 minutes and a second: the first read is out of the window
    cap.charge(7, "case")
    with pytest.raises(TooManyReads) as again:
        cap.charge(7, "case")
    assert again.value.notify is False, "told once an hour"


def test_weights_count_an_export_as_ten_reads():
    assert WEIGHTS == {"case": 1, "search": 1, "attachment": 1, "export": 10}
    cap = ReadLimit(MemoryStorage(), per_hour=12, prefix="unit")
    cap.charge(7, "export")
    cap.charge(7, "case")
    cap.charge(7, "attachment")
    with pytest.raises(TooManyReads):
        cap.charge(7, "search")


def test_downloads_and_exports_count_against_the_cap(app, client, pnc, supervisor, case_id):
    import io

    from tests.factories import one_page_pdf

    app.config["RUTA_CASE_READS_PER_HOUR"] = 12
    upload = client.post(
        f"/api/v1/cases/{case_id}/attachments",
        headers=pnc.headers,
        data={"file": (io.BytesIO(one_page_pdf()), "informe.pdf")},
    )
    assert upload.status_code == 201, upload.get_json()
    download = f"/api/v1/cases/{case_id}/attachments/{upload.get_json()['id']}"
    for n in range(12):
        answer = client.get(download, headers=pnc.headers)
        assert answer.status_code == 200, f"download {n + 1}"
        answer.close()
    assert client.get(download, headers=pnc.headers).status_code == 429

    # An export weighs ten reads: the second one within the hour is refused.
    export = "/api/v1/stats?by=violence_type&format=csv"
    assert client.get(export, headers=supervisor.headers).status_code == 200
    refused = client.get(export, headers=supervisor.headers)
    assert refused.status_code == 429, refused.data[:200]
