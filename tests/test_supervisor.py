"""The supervisor's audit API: filtered event lists and the reports to act on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor, record_event
from app.auth.service import find_user
from app.core.time import LOCAL_TZ, utcnow
from app.crypto.service import get_keyring
from app.extensions import db
from app.supervision import queries
from tests.auth_helpers import api_login
from tests.conftest import PASSWORD
from tests.factories import OTHER_DUI, intake

CONTRACT_FIELDS = {"at", "username", "institution", "action", "case_id", "ip", "reason"}


@pytest.fixture
def scene(client, make_person):
    ana = make_person("pnc_agent", "PNC-SON", "ana.pnc")
    beto = make_person("health_staff", "US-SON", "beto.salud")
    sup = make_person("supervisor", "RED-SON", "sup.red")
    first = client.post("/api/v1/cases", json=intake(), headers=ana.headers)
    assert first.status_code == 201
    joined = client.post("/api/v1/cases", json=intake(), headers=beto.headers)
    assert joined.get_json()["matched_existing"] is True
    second = client.post(
        "/api/v1/cases",
        headers=ana.headers,
        json=intake(survivor_overrides={"dui": OTHER_DUI, "given_names": "Rosa Elena"}),
    )
    assert second.status_code == 201
    case_a, case_b = first.get_json()["id"], second.get_json()["id"]
    for person, case_id in ((ana, case_a), (beto, case_a), (ana, case_b), (sup, case_a)):
        assert client.get(f"/api/v1/cases/{case_id}", headers=person.headers).status_code == 200
    return SimpleNamespace(ana=ana, beto=beto, sup=sup, case_a=case_a, case_b=case_b)


def _audit(client, scene, **query):
    response = client.get("/api/v1/audit", headers=scene.sup.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def _db_events(app, *where) -> list[int]:
    with app.app_context():
        return list(
            db.session.execute(
                select(AuditEvent.id).where(*where).order_by(AuditEvent.id.desc())
            ).scalars()
        )


def test_audit_items_carry_the_contract_fields(client, scene):
    items = _audit(client, scene)
    assert items
    for item in items:
        assert set(item) >= CONTRACT_FIELDS, item
    views = [i for i in items if i["action"] == "case_view" and i["username"] == "beto.salud"]
    assert [(v["institution"], v["case_id"], v["ip"]) for v in views] == [
        ("US-SON", scene.case_a, "127.0.0.1")
    ]


def test_audit_filters_by_case(app, client, scene):
    items = _audit(client, scene, case_id=scene.case_a)
    assert [i["id"] for i in items] == _db_events(
        app, AuditEvent.case_id == uuid.UUID(scene.case_a)
    )
    assert {i["case_id"] for i in items} == {scene.case_a}
    assert {"case_create", "case_view"} <= {i["action"] for i in items}
    assert {i["username"] for i in items} == {"ana.pnc", "beto.salud", "sup.red"}


def test_audit_filters_by_username_whatever_its_case(app, client, scene):
    items = _audit(client, scene, username="Beto.Salud")
    assert items and {i["username"] for i in items} == {"beto.salud"}
    assert [i["id"] for i in items] == _db_events(app, AuditEvent.username == "beto.salud")


def test_audit_filters_by_since(app, client, scene):
    with app.app_context():
        old = record_event(
            db.session,
            get_keyring().audit_key,
            Actor(None, "ana.pnc", "PNC-SON", "pnc_agent", "10.9.9.9"),
            "case_view",
            case_id=uuid.UUID(scene.case_a),
            detail="full",
            at=utcnow() - timedelta(days=10),
        )
        db.session.commit()
        old_id = old.id
    since = utcnow() - timedelta(days=1)
    recent = _audit(client, scene, since=since.isoformat())
    assert old_id not in {i["id"] for i in recent}
    assert all(datetime.fromisoformat(i["at"]) >= since for i in recent)
    assert len(recent) == len(_db_events(app)) - 1
    naive = _audit(client, scene, since=since.replace(tzinfo=None).isoformat())
    assert [i["id"] for i in naive] == [i["id"] for i in recent], "naive times are UTC"
    a_month = (utcnow() - timedelta(days=30)).date().isoformat()  # a plain date works too
    assert old_id in {i["id"] for i in _audit(client, scene, since=a_month)}


def test_audit_filters_combine(app, client, scene):
    items = _audit(
        client,
        scene,
        case_id=scene.case_a,
        username="ana.pnc",
        since=(utcnow() - timedelta(hours=1)).isoformat(),
    )
    assert items == [
        i for i in _audit(client, scene, case_id=scene.case_a) if i["username"] == "ana.pnc"
    ]
    assert {i["action"] for i in items} == {"case_create", "case_view"}
    assert _audit(client, scene, case_id=scene.case_b, username="beto.salud") == []


@pytest.mark.parametrize(
    "query", [{"case_id": "not-a-uuid"}, {"since": "ayer"}, {"limit": "0"}, {"username": "x" * 61}]
)
def test_bad_audit_filters_answer_422(client, scene, query):
    response = client.get("/api/v1/audit", headers=scene.sup.headers, query_string=query)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid"


def test_audit_log_is_for_supervisors_only(client, scene):
    for person in (scene.ana, scene.beto):
        assert client.get("/api/v1/audit", headers=person.headers).status_code == 403
        assert client.get("/api/v1/audit/reports", headers=person.headers).status_code == 403


# ---- reports -----------------------------------------------------------------------------


# El Salvador keeps UTC-6 all year. 16 November 2026 is a Monday, the 21st a Saturday.
def _local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


READ_TIMES = {
    "monday 03:00": (_local(16, 3), True),
    "monday 06:59": (_local(16, 6, 59), True),
    "monday 07:00": (_local(16, 7), False),
    "monday 12:30": (_local(16, 12, 30), False),
    "monday 17:59": (_local(16, 17, 59), False),
    "monday 18:00": (_local(16, 18), True),
    "monday 23:30": (_local(16, 23, 30), True),  # already Tuesday in UTC
    "saturday 10:00": (_local(21, 10), True),
    "friday 10:00": (_local(20, 10), False),
}
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def timed_reads(app, scene):
    """Reads by Ana at known local times, and a login at night that is not a read."""
    ids = {}
    with app.app_context():
        key = get_keyring().audit_key
        ana = Actor(scene.ana.id, "ana.pnc", "PNC-SON", "pnc_agent", "10.1.1.1")
        for label, (at, _outside) in READ_TIMES.items():
            ids[label] = record_event(
                db.session,
                key,
                ana,
                "case_view",
                object_type="case",
                case_id=uuid.UUID(scene.case_a),
                detail="full",
                at=at,
            ).id
        record_event(db.session, key, ana, "login", at=_local(16, 2))
        db.session.commit()
    return ids


def _supervisor(app, scene):
    return find_user(db.session, scene.sup.username)


def test_reads_outside_office_hours_are_the_night_and_weekend_ones(app, scene, timed_reads):
    expected = {timed_reads[label] for label, (_at, outside) in READ_TIMES.items() if outside}
    with app.app_context():
        found = queries.reads_outside_office_hours(db.session, _supervisor(app, scene), SINCE)
        # The scene's own reads happen at whatever time the suite runs: judge only ours.
        assert {event.id for event in found} & set(timed_reads.values()) == expected
        assert all(event.action == "case_view" for event in found)


def test_reads_outside_office_hours_report_is_capped(app, scene, timed_reads, monkeypatch):
    monkeypatch.setattr(queries, "MAX_ROWS", 2)
    with app.app_context():
        found = queries.reads_outside_office_hours(db.session, _supervisor(app, scene), SINCE)
        assert len(found) == 2
        assert found[0].id > found[1].id, "newest first"


def test_reports_endpoint_shows_reads_outside_hours_and_failed_logins(client, scene, timed_reads):
    for _ in range(3):
        assert api_login(client, "ana.pnc", "not the password at all").status_code == 401
    assert api_login(client, "nadie", PASSWORD).status_code == 401
    response = client.get(
        "/api/v1/audit/reports",
        headers=scene.sup.headers,
        query_string={"since": SINCE.isoformat()},
    )
    assert response.status_code == 200
    report = response.get_json()
    outside = {timed_reads[label] for label, (_at, out) in READ_TIMES.items() if out}
    listed = {item["id"] for item in report["reads_outside_office_hours"]}
    assert listed & set(timed_reads.values()) == outside
    failures = {(row["username"], row["ip"]): row["failures"] for row in report["failed_logins"]}
    # An unknown account is logged without the typed name (it might be a password).
    assert failures == {("ana.pnc", "127.0.0.1"): 3, (None, "127.0.0.1"): 1}
    # The timed reads predate the case itself, so PNC-SON was no party when they happened.
    assert {item["id"] for item in report["reads_by_non_parties"]} == set(timed_reads.values())
    per_day = {
        (row["username"], row["day"]): row["reads"] for row in report["accesses_per_user_per_day"]
    }
    # El Salvador days: the seven reads of Monday the 16th, 03:00 to 23:30 local time.
    assert per_day[("ana.pnc", "2026-11-16")] == 7


def test_no_reads_by_non_parties_in_normal_operation(app, client, scene):
    grant = client.post(
        f"/api/v1/cases/{scene.case_b}/break-glass",
        headers=scene.sup.headers,
        json={"reason": "Orden judicial urgente, oficio 9", "password": PASSWORD},
    )
    assert grant.status_code == 201
    assert client.get(f"/api/v1/cases/{scene.case_b}", headers=scene.sup.headers).status_code == 200
    assert (
        client.get(f"/api/v1/cases/{scene.case_b}", headers=scene.beto.headers).status_code == 404
    )
    since = utcnow() - timedelta(hours=1)
    with app.app_context():
        sup = _supervisor(app, scene)
        assert queries.reads_by_non_parties(db.session, sup, since) == []
        # A full read by an institution that is not a party must show up at once.
        intruder = record_event(
            db.session,
            get_keyring().audit_key,
            Actor(None, "intruso", "PNC-ACA", "pnc_agent", "10.6.6.6"),
            "case_view",
            case_id=uuid.UUID(scene.case_a),
            detail="full",
        )
        db.session.commit()
        found = queries.reads_by_non_parties(db.session, sup, since)
        assert [event.id for event in found] == [intruder.id]


def test_reports_refuse_non_supervisors_in_the_service_too(app, scene):
    with app.app_context():
        ana = find_user(db.session, "ana.pnc")
        since = utcnow() - timedelta(days=1)
        for report in (
            queries.reads_outside_office_hours,
            queries.reads_by_non_parties,
            queries.failed_logins,
            queries.accesses_per_user_per_day,
        ):
            with pytest.raises(queries.Forbidden):
                report(db.session, ana, since)
