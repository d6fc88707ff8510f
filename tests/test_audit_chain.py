"""The audit log: a hash chain that shows any edit, deletion or swap, rows the database
refuses to change, one row per case read, and never any case content or secret."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.seal import seal
from app.audit.service import Actor, event_hmac, record_event, verify_chain
from app.crypto.service import get_keyring
from app.extensions import db
from tests.auth_helpers import api_login, otp
from tests.conftest import PASSWORD, USING_PG
from tests.factories import OTHER_DUI, incident, intake, survivor

REPO = Path(__file__).resolve().parent.parent
MIGRATION_0003 = REPO / "migrations" / "versions" / "0003_audit_append_only.py"
APP_ROLE = "ruta_app"
COLUMNS = (
    "at",
    "user_id",
    "username",
    "institution",
    "role",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "ip",
    "reason",
    "detail",
    "prev_hmac",
    "hmac",
)


@pytest.fixture
def activity(app, client, make_person):
    """A morning's work: logins, a case opened and joined, reads, a search, a break-glass."""
    pnc = make_person("pnc_agent", "PNC-SON")
    health = make_person("health_staff", "US-SON")
    womens = make_person("womens_office", "UMM-SON")
    stranger = make_person("pnc_agent", "PNC-ACA")
    supervisor = make_person("supervisor", "RED-SON")
    make_person("supervisor", "RED-SON")  # someone to tell about the break-glass
    opened = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert opened.status_code == 201
    case_id = opened.get_json()["id"]
    for joining in (health, womens):
        joined = client.post("/api/v1/cases", json=intake(), headers=joining.headers)
        assert joined.status_code == 201 and joined.get_json()["id"] == case_id
    assert api_login(client, pnc.username, "not the password at all").status_code == 401
    assert (
        client.post(
            "/api/v1/cases/search",
            json={"dui": intake()["survivor"]["dui"]},
            headers=health.headers,
        ).status_code
        == 200
    )
    reads = [
        (pnc, 200),
        (health, 200),
        (womens, 200),
        (pnc, 200),
        (supervisor, 200),
        (stranger, 404),
    ]
    for person, status in reads:
        assert client.get(f"/api/v1/cases/{case_id}", headers=person.headers).status_code == status
    glass = client.post(
        f"/api/v1/cases/{case_id}/break-glass",
        headers=supervisor.headers,
        json={"reason": "Orden judicial urgente número 44", "password": PASSWORD},
    )
    assert glass.status_code == 201
    assert client.get(f"/api/v1/cases/{case_id}", headers=supervisor.headers).status_code == 200
    return SimpleNamespace(
        case_id=case_id,
        pnc=pnc,
        health=health,
        womens=womens,
        stranger=stranger,
        supervisor=supervisor,
        status_code=opened.get_json().get("status_code"),
        status_pin=opened.get_json().get("status_pin"),
    )


@pytest.fixture
def chain(app):
    """Twelve events written by the app's own writer and sealed, as the app does within a
    second: enough history to tamper with."""
    with app.app_context():
        key = get_keyring().audit_key
        for n in range(12):
            actor = Actor(n, f"usuario{n}", "PNC-SON", "pnc_agent", f"10.0.0.{n}")
            record_event(
                db.session,
                key,
                actor,
                "case_search",
                object_type="case",
                reason=f"motivo {n}",
                detail=f"results={n}",
            )
        db.session.commit()
        assert seal(db.session, key).linked == 12
    return list(range(1, 13))


def _verify(app):
    with app.app_context():
        return verify_chain(db.session, get_keyring().audit_key)


def _execute(app, sql: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()


def _event_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())


@pytest.fixture
def unprotected(app):
    """An attacker with the table owner's rights switches the append-only guard off."""
    for table in ("audit_events", "audit_links"):
        if USING_PG:
            _execute(app, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            _execute(app, f"DROP TRIGGER {table}_no_update")
            _execute(app, f"DROP TRIGGER {table}_no_delete")
    yield
    if USING_PG:  # the schema outlives this test
        for table in ("audit_events", "audit_links"):
            _execute(app, f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def test_chain_of_real_activity_verifies(app, activity):
    result = _verify(app)
    assert result.ok, result
    assert result.events == len(_event_ids(app)) >= 12


def _edit_reason(app, target):
    _execute(app, "UPDATE audit_events SET reason = 'nada que ver' WHERE id = :id", id=target)


def _edit_username(app, target):
    _execute(app, "UPDATE audit_events SET username = 'otra.persona' WHERE id = :id", id=target)


def _edit_time(app, target):
    _execute(
        app,
        "UPDATE audit_events SET at = (SELECT MIN(at) FROM audit_events) WHERE id = :id",
        id=target,
    )


def _delete(app, target):
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=target)


def _swap_with_next(app, target):
    """Exchange every column but the id between two rows: reordering history."""
    with app.app_context():
        rows = {
            row.id: row
            for row in db.session.execute(
                text("SELECT * FROM audit_events WHERE id IN (:a, :b)"),
                {"a": target, "b": target + 1},
            )
        }
        assignments = ", ".join(f"{column} = :{column}" for column in COLUMNS)
        for this, other in ((target, target + 1), (target + 1, target)):
            values = {column: getattr(rows[other], column) for column in COLUMNS}
            # Column names are this module's constants; the values are bound parameters.
            db.session.execute(
                text(f"UPDATE audit_events SET {assignments} WHERE id = :id"),  # noqa: S608
                {**values, "id": this},
            )
        db.session.commit()


@pytest.mark.parametrize(
    "tamper", [_edit_reason, _edit_username, _edit_time, _delete, _swap_with_next]
)
def test_tampering_is_found_at_the_tampered_row(app, chain, unprotected, tamper):
    target = chain[len(chain) // 2]
    assert _verify(app).ok
    tamper(app, target)
    result = _verify(app)
    assert not result.ok
    assert result.broken_event_id == target, result


def test_edit_of_the_first_row_is_found(app, chain, unprotected):
    _edit_reason(app, 1)
    assert _verify(app).broken_event_id == 1


@pytest.mark.parametrize("cut", [1, 3])
def test_rows_cut_off_the_end_are_found(app, chain, unprotected, cut):
    first_removed = chain[-cut]
    _execute(app, "DELETE FROM audit_events WHERE id >= :id", id=first_removed)
    result = _verify(app)
    assert not result.ok
    assert result.broken_event_id == first_removed, result


def test_tail_cut_with_the_head_moved_back_is_found(app, chain, unprotected):
    """Cutting the last events and their links and pointing the head at the new last
    link, as an owner could, still fails: the head is sealed with the audit key."""
    keep = chain[-3]
    with app.app_context():
        kept_mac = db.session.execute(
            text("SELECT hmac FROM audit_links WHERE event_id = :id"), {"id": keep}
        ).scalar_one()
        db.session.rollback()
    _execute(app, "DELETE FROM audit_events WHERE id > :id", id=keep)
    _execute(app, "DELETE FROM audit_links WHERE seq > :n", n=keep)
    _execute(
        app,
        "UPDATE audit_head SET last_event_id = :id, last_hmac = :mac, count = :n",
        id=keep,
        mac=kept_mac,
        n=keep,
    )
    result = _verify(app)
    assert not result.ok and result.broken_event_id == keep + 1


def test_whole_log_deleted_is_found(app, chain, unprotected):
    _execute(app, "DELETE FROM audit_events")
    result = _verify(app)
    assert not result.ok and result.broken_event_id == 1


def test_row_forged_without_the_audit_key_is_found(app, chain, unprotected):
    """Rewriting a row and recomputing its HMAC with a guessed key does not pass."""
    target = chain[4]
    with app.app_context():
        event = db.session.get(AuditEvent, target)
        event.reason = "falsificado"
        event.hmac = event_hmac(b"\x00" * 32, event)
        db.session.commit()
    assert _verify(app).broken_event_id == target


def _cli_verify(settings, tmp_path) -> subprocess.CompletedProcess:
    secret_file = tmp_path / "cli_secret_key"
    secret_file.write_text(settings.secret_key)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUTA_", "FLASK_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=settings.database_url,
        RUTA_KEY_FILE=str(settings.key_file),
        RUTA_SECRET_FILE=str(secret_file),
        RUTA_ATTACHMENTS_DIR=str(tmp_path / "att"),
    )
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_audit_verify_command_reports_an_intact_chain(app, activity):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"ok {len(_event_ids(app))} events" in result.output


def test_cli_audit_verify_names_the_first_broken_event(app, activity, settings, tmp_path):
    """The real command line, in its own process, on the test's database: once per database."""
    count = len(_event_ids(app))
    if USING_PG:
        _execute(app, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        _execute(app, "DROP TRIGGER audit_events_no_update")
    try:
        target = _event_ids(app)[count // 2]
        _edit_username(app, target)
        broken = _cli_verify(settings, tmp_path)
    finally:
        if USING_PG:
            _execute(app, "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    assert broken.returncode == 1
    assert f"event {target}" in broken.stdout + broken.stderr
    assert f"event {target + 1}" not in broken.stdout + broken.stderr


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET reason = 'borrado' WHERE id = 2",
        "UPDATE audit_events SET hmac = prev_hmac",
        "DELETE FROM audit_events WHERE id = 2",
        "DELETE FROM audit_events",
    ],
)
def test_database_refuses_to_change_audit_rows(app, chain, statement):
    before = _event_ids(app)
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert _event_ids(app) == before
    assert _verify(app).ok


def _grant_app_role(url: str) -> None:
    """Create the application's role if missing and run migration 0003's grants for it."""
    spec = importlib.util.spec_from_file_location("migration_0003", MIGRATION_0003)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ruta_app') "
                    "THEN CREATE ROLE ruta_app NOLOGIN; END IF; END $$"
                )
            )
            migration.op = SimpleNamespace(execute=lambda sql: conn.execute(text(sql)))
            migration._grant_app_role(APP_ROLE)
    finally:
        engine.dispose()


@pytest.mark.skipif(not USING_PG, reason="database roles are a PostgreSQL feature")
def test_app_role_may_only_read_and_append_audit_rows(app, chain, settings):
    _grant_app_role(settings.database_url)
    engine = create_engine(settings.database_url)
    refused = [
        "UPDATE audit_events SET reason = 'x' WHERE id = 1",
        "DELETE FROM audit_events WHERE id = 1",
        "TRUNCATE audit_events",
    ]
    try:
        for statement in refused:
            with engine.connect() as conn:
                conn.execute(text(f"SET ROLE {APP_ROLE}"))
                with pytest.raises(DBAPIError, match="permission denied"):
                    conn.execute(text(statement))
                conn.rollback()
        with engine.connect() as conn:
            conn.execute(text(f"SET ROLE {APP_ROLE}"))
            assert conn.execute(text("SELECT current_user")).scalar() == APP_ROLE
            count = conn.execute(text("SELECT count(*) FROM audit_events")).scalar()
            with Session(bind=conn) as session:  # the app's own writer, as the app role
                record_event(
                    session,
                    app.extensions["ruta.keyring"].audit_key,
                    Actor(None, "cli", None, "operator"),
                    "export",
                    detail="role-test",
                )
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == count + 1
            conn.commit()
    finally:
        engine.dispose()
    assert _verify(app).ok


def test_every_case_read_has_its_own_audit_row(app, activity):
    with app.app_context():
        views = (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == "case_view").order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
        seen = [(v.username, v.institution, str(v.case_id), v.detail, v.user_id) for v in views]
    a = activity
    expected = [
        (p.username, p.institution, a.case_id, detail, p.id)
        for p, detail in (
            (a.pnc, "full"),
            (a.health, "full"),
            (a.womens, "full"),
            (a.pnc, "full"),
            (a.supervisor, "metadata"),
            (a.supervisor, "break_glass"),
        )
    ]
    assert seen == expected, "one row per read, with who, where and which case; none for a 404"


def test_a_second_case_is_audited_under_its_own_id(app, client, activity):
    other = client.post(
        "/api/v1/cases",
        headers=activity.pnc.headers,
        json=intake(survivor_overrides={"dui": OTHER_DUI, "given_names": "Rosa Elena"}),
    )
    assert other.status_code == 201
    other_id = other.get_json()["id"]
    assert client.get(f"/api/v1/cases/{other_id}", headers=activity.pnc.headers).status_code == 200
    with app.app_context():
        case_ids = (
            db.session.execute(
                select(AuditEvent.case_id)
                .where(AuditEvent.action == "case_view", AuditEvent.user_id == activity.pnc.id)
                .order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert [str(c) for c in case_ids] == [activity.case_id, activity.case_id, other_id]


def test_audit_rows_hold_no_case_content_or_secret(app, client, activity):
    token = api_login(
        client, activity.pnc.username, PASSWORD, otp(activity.pnc.totp_secret)
    ).get_json()["token"]
    person, story = survivor(), incident()
    secrets = {
        "given names": person["given_names"],
        "family names": person["family_names"],
        "DUI": person["dui"],
        "DUI digits": person["dui"].replace("-", ""),
        "phone": person["phone"],
        "address": person["address"],
        "narrative": story["narrative"],
        "narrative start": story["narrative"][:20],
        "password": PASSWORD,
        "login token": token,
        **{
            f"token of {p.username}": p.token
            for p in (activity.pnc, activity.health, activity.supervisor)
        },
        "TOTP secret": activity.pnc.totp_secret,
    }
    if activity.status_pin:
        secrets["status pin"] = activity.status_pin
        secrets["status code"] = activity.status_code
    # Every column a person or the app could write text into (not the times and digests).
    written = [c for c in COLUMNS if c not in ("at", "prev_hmac", "hmac")]
    with app.app_context():
        rows = db.session.execute(select(*[getattr(AuditEvent, c) for c in written])).all()
    text_of_log = "\n".join(" ".join(str(value) for value in row) for row in rows).lower()
    leaked = [label for label, secret in secrets.items() if secret.lower() in text_of_log]
    assert leaked == []
