"""The audit log without a global lock: requests append events and touch no shared row;
the sealer chains what has committed, in order, whatever order the writers committed in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent, AuditHead, AuditLink
from app.audit.seal import SealRefused, seal
from app.audit.service import GENESIS_HMAC, Actor, event_hmac, record_event, verify_chain
from app.extensions import db
from tests.conftest import USING_PG
from tests.factories import intake

ACTOR = Actor(7, "ana.pnc", "PNC-SON", "pnc_agent", "10.0.0.7")


def audit_key(app: Flask) -> bytes:
    return app.extensions["ruta.keyring"].audit_key


def write(app: Flask, how_many: int = 1) -> list[int]:
    with app.app_context():
        ids = [
            record_event(db.session, audit_key(app), ACTOR, "case_search", detail=f"n={n}").id
            for n in range(how_many)
        ]
        db.session.commit()
    return ids


def seal_now(app: Flask):
    with app.app_context():
        return seal(db.session, audit_key(app), wait=True)


def verify(app: Flask):
    with app.app_context():
        return verify_chain(db.session, audit_key(app))


def linked_ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(
            db.session.execute(select(AuditLink.event_id).order_by(AuditLink.seq)).scalars()
        )


def head_row(app: Flask) -> tuple:
    with app.app_context():
        head = db.session.get_one(AuditHead, 1)
        return (head.count, head.last_event_id, head.last_hmac, head.floor, head.head_mac)


def test_writing_an_event_leaves_the_head_alone_and_the_seal_links_it(app):
    before = head_row(app)
    ids = write(app, 3)
    assert head_row(app) == before  # no shared row touched by the writers
    result = verify(app)
    assert result.ok and result.events == 3 and result.pending == 3

    sealed = seal_now(app)

    assert (sealed.linked, sealed.count, sealed.last_event_id) == (3, 3, ids[-1])
    assert linked_ids(app) == ids
    result = verify(app)
    assert result.ok and result.events == 3 and result.pending == 0
    assert seal_now(app).linked == 0  # nothing twice


def test_an_audited_request_is_sealed_by_the_app_once_the_interval_passed(app, client, pnc):
    app.extensions["ruta.anchoring"].seal_interval = 0
    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201
    assert (
        client.get(f"/api/v1/cases/{created.get_json()['id']}", headers=pnc.headers).status_code
        == 200
    )
    with app.app_context():
        events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    assert len(linked_ids(app)) == events
    assert verify(app).pending == 0


@pytest.mark.skipif(not USING_PG, reason="row locks between connections: PostgreSQL")
def test_a_writer_does_not_wait_for_a_locked_head(app, settings):
    """With the head row locked by someone else, requests still append and commit."""
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT * FROM audit_head WHERE id = 1 FOR UPDATE"))
            with engine.connect() as writer:
                writer.execute(text("SET lock_timeout = '500ms'"))
                with Session(bind=writer) as session:
                    record_event(session, audit_key(app), ACTOR, "case_search", detail="n=1")
                    session.commit()
                writer.commit()  # the session joined the connection's own transaction
            holder.rollback()
    finally:
        engine.dispose()
    assert verify(app).pending == 1


@pytest.mark.skipif(not USING_PG, reason="writers take turns on SQLite: ids come in order")
def test_an_event_committed_after_a_later_one_was_sealed_is_still_linked(app, settings):
    """A transaction that took its id first and committed last: the floor waits for it."""
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as slow_conn, Session(bind=slow_conn) as slow:
            early = record_event(slow, audit_key(app), ACTOR, "case_search", detail="slow").id
            late = write(app, 2)
            assert early < late[0]
            assert seal_now(app).linked == 2  # the slow one is not on the record yet
            write(app, 1)
            assert seal_now(app).linked == 1
            slow.commit()
        sealed = seal_now(app)
    finally:
        engine.dispose()
    assert sealed.linked == 1 and linked_ids(app)[-1] == early
    result = verify(app)
    assert result.ok and result.pending == 0 and result.events == 4


def test_an_event_altered_before_its_seal_stops_the_sealer_there(app, caplog):
    ids = write(app, 4)
    with app.app_context():
        if USING_PG:
            db.session.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            )
        else:
            db.session.execute(text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(
            text("UPDATE audit_events SET detail = 'n=99' WHERE id = :id"), {"id": ids[2]}
        )
        if USING_PG:
            db.session.execute(
                text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
            )
        db.session.commit()

    sealed = seal_now(app)

    assert (
        sealed.linked == 2 and sealed.problem == f"event {ids[2]} was altered before it was sealed"
    )
    assert f"event {ids[2]} was altered" in caplog.text
    result = verify(app)
    assert not result.ok and result.broken_event_id == ids[2]


def test_a_head_moved_without_the_audit_key_is_not_extended(app):
    write(app, 2)
    seal_now(app)
    write(app, 1)
    with app.app_context():
        db.session.execute(text("UPDATE audit_head SET floor = floor + 1000"))
        db.session.commit()
        with pytest.raises(SealRefused, match="not sealed with the audit key"):
            seal(db.session, audit_key(app))
    assert len(linked_ids(app)) == 2


def test_events_of_the_old_single_chain_are_linked_in_their_order(app):
    """Rows written before migration 0018 carry their chain link and an HMAC over it."""
    key = audit_key(app)
    prev = GENESIS_HMAC
    with app.app_context():
        for n in (1, 2, 3):
            row = {
                "id": n,
                "at": datetime(2026, 11, n, 9, 0, tzinfo=UTC),
                "user_id": 7,
                "username": "ana.pnc",
                "institution": "PNC-SON",
                "role": "pnc_agent",
                "action": "case_view",
                "object_type": None,
                "object_id": None,
                "case_id": None,
                "ip": None,
                "reason": None,
                "detail": "full",
                "prev_hmac": prev,
            }
            mac = event_hmac(key, SimpleNamespace(**row))
            db.session.execute(AuditEvent.__table__.insert().values(**row, hmac=mac, xact=0))
            prev = mac
        if USING_PG:
            db.session.execute(text("SELECT setval('audit_events_id_seq', 3)"))
        db.session.commit()
    write(app, 1)

    assert seal_now(app).linked == 4
    assert linked_ids(app) == [1, 2, 3, 4]
    assert verify(app).ok


def test_two_sealers_at_once_link_each_event_once(app, settings):
    write(app, 50)
    results = []

    def sealer() -> None:
        with app.app_context():  # each thread its own session
            results.append(seal(db.session, audit_key(app), wait=True))
            db.session.remove()

    threads = [threading.Thread(target=sealer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.linked for r in results) == 50
    assert len(set(linked_ids(app))) == 50
    assert verify(app).ok


def test_seal_command_links_and_says_how_many(app):
    write(app, 3)
    result = app.test_cli_runner().invoke(args=["audit", "seal"])
    assert result.exit_code == 0, result.output
    assert "sealed 3 events; the chain holds 3" in result.output
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and verified.stdout.strip() == "ok 3 events"


def test_verify_says_how_many_are_not_sealed_yet(app):
    write(app, 2)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "ok 2 events"
    assert "2 of them not sealed yet" in result.stderr
