"""Replacing the audit key (ASVS 11.2.2): `keys rotate-audit` records a switch event
sealed under the old key that names the new one; events, links and anchors after it
are the new key's, the old key stays to verify the past, and tampering on either side
of the switch, or with the switch itself, is caught. CLI runner, API, test database."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.audit.models import AuditEvent, AuditLink
from app.audit.seal import seal
from app.audit.service import Actor, audit_key_id, record_event
from app.crypto.keyring import KeyRing, read_key_file
from app.crypto.service import get_keyring, verify_or_create_canary
from app.extensions import db
from tests.conftest import USING_PG
from tests.factories import intake

BEFORE, AFTER = 6, 6


def write_events(app: Flask, count: int, label: str) -> list[int]:
    with app.app_context():
        ring = get_keyring()
        ids = []
        for n in range(count):
            actor = Actor(n, f"{label}{n}", "PNC-SON", "pnc_agent", f"10.0.0.{n}")
            recorded = record_event(
                db.session, ring.audit_key, actor, "case_search", detail=f"results={n}"
            )
            ids.append(recorded.id)
        db.session.commit()
        assert seal(db.session, ring.audit_keys).problem is None
    return ids


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def verified(app: Flask) -> Any:
    return invoke(app, "audit", "verify")


def switch_event(app: Flask) -> AuditEvent:
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "audit_key_switch")
        ).scalar_one()
        db.session.expunge(event)
        return event


@pytest.fixture
def switched(app: Flask) -> SimpleNamespace:
    """Events under the first key, an anchor, the switch, and events under the new key."""
    old_key = read_key_file(app.config["RUTA_KEY_FILE"]).audit_key
    before = write_events(app, BEFORE, "antes")
    assert invoke(app, "audit", "anchor").exit_code == 0
    rotated = invoke(app, "keys", "rotate-audit")
    assert rotated.exit_code == 0, rotated.output
    after = write_events(app, AFTER, "despues")
    new_key = read_key_file(app.config["RUTA_KEY_FILE"]).audit_key
    return SimpleNamespace(
        before=before,
        after=after,
        switch=switch_event(app),
        old_key=old_key,
        new_key=new_key,
        output=rotated.output,
    )


def _execute(app: Flask, sql: str, **params: Any) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()


@pytest.fixture
def unprotected(app: Flask):
    """The table owner switches the append-only guard off, as an attacker could."""
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


def test_after_rotate_audit_verify_is_ok_and_each_side_has_its_key(app, client, pnc, switched):
    opened = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert opened.status_code == 201
    assert client.get(f"/api/v1/cases/{opened.get_json()['id']}", headers=pnc.headers).status_code
    assert invoke(app, "audit", "seal").exit_code == 0

    result = verified(app)

    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok ")
    material = read_key_file(app.config["RUTA_KEY_FILE"])
    assert material.past_audit_keys == (switched.old_key,)
    assert material.audit_key == switched.new_key != switched.old_key
    old_id, new_id = audit_key_id(switched.old_key), audit_key_id(switched.new_key)
    assert new_id in switched.output
    assert switched.switch.detail == f"key={new_id}" and switched.switch.key_id == old_id
    with app.app_context():
        events = dict(db.session.execute(select(AuditEvent.id, AuditEvent.key_id)).all())
        links = dict(db.session.execute(select(AuditLink.event_id, AuditLink.key_id)).all())
    assert {events[i] for i in switched.before} == {old_id}
    assert {events[i] for i in switched.after} == {new_id}
    assert all(links[i] is None for i in [*switched.before, switched.switch.id])
    assert {links[i] for i in switched.after} == {new_id}
    # The anchor written by the rotation names the new key; the earlier one the old.
    anchors = (app.config["RUTA_AUDIT_ANCHOR_DIR"]).glob("anchors-*.jsonl")
    lines = "".join(path.read_text() for path in anchors)
    assert f'"key":"{new_id}"' in lines and lines.count("\n") >= 2


def test_a_restart_with_the_rotated_key_file_passes_the_canary(app, switched):
    with app.app_context():
        verify_or_create_canary(db.session, KeyRing(app.config["RUTA_KEY_FILE"]))


def _edit(app: Flask, target: int) -> None:
    _execute(app, "UPDATE audit_events SET reason = 'nada que ver' WHERE id = :id", id=target)


def _delete(app: Flask, target: int) -> None:
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=target)


def _rename_switch_target(app: Flask, target: int) -> None:
    _execute(app, "UPDATE audit_events SET detail = 'key=aotra' WHERE id = :id", id=target)


def _relabel_link_to_new_key(app: Flask, target: int) -> None:
    with app.app_context():
        new_id = get_keyring().audit_keys.active_id
    _execute(
        app, "UPDATE audit_links SET key_id = :key WHERE event_id = :id", key=new_id, id=target
    )


@pytest.mark.parametrize(
    ("where", "tamper"),
    [
        ("before", _edit),
        ("before", _delete),
        ("before", _relabel_link_to_new_key),
        ("after", _edit),
        ("after", _delete),
        ("switch", _delete),
        ("switch", _edit),
        ("switch", _rename_switch_target),
    ],
)
def test_tampering_on_either_side_of_the_switch_is_found(app, switched, unprotected, where, tamper):
    target = {
        "before": switched.before[2],
        "after": switched.after[2],
        "switch": switched.switch.id,
    }[where]
    assert verified(app).exit_code == 0

    tamper(app, target)

    result = verified(app)
    assert result.exit_code == 1
    assert f"broken at event {target}" in result.output


def test_the_chain_cut_at_the_switch_is_found(app, switched, unprotected):
    """Everything from the switch on deleted, and the head put back to the last link
    before it: the head's MAC under the new key no longer holds, and the anchor the
    rotation wrote remembers the longer chain."""
    keep = switched.switch.id - 1
    with app.app_context():
        seq, mac = db.session.execute(
            select(AuditLink.seq, AuditLink.hmac).where(AuditLink.event_id == keep)
        ).one()
        db.session.rollback()
    _execute(app, "DELETE FROM audit_events WHERE id > :id", id=keep)
    _execute(app, "DELETE FROM audit_links WHERE seq > :n", n=seq)
    _execute(
        app,
        "UPDATE audit_head SET last_event_id = :id, last_hmac = :mac, count = :n, key_id = NULL",
        id=keep,
        mac=mac,
        n=seq,
    )
    result = verified(app)
    assert result.exit_code == 1 and f"broken at event {keep + 1}" in result.output


def test_a_rotation_interrupted_after_the_new_key_still_gets_its_switch(app):
    before = write_events(app, 3, "antes")
    with app.app_context():
        first_new = get_keyring().rotate_audit_key()  # the run stopped right here
    events_meanwhile = write_events(app, 2, "entre")  # signed with the new key already
    assert verified(app).exit_code == 0

    again = invoke(app, "keys", "rotate-audit")

    assert again.exit_code == 0, again.output
    material = read_key_file(app.config["RUTA_KEY_FILE"])
    assert len(material.past_audit_keys) == 1  # no second new key
    assert audit_key_id(material.audit_key) == first_new
    assert switch_event(app).detail == f"key={first_new}"
    after = write_events(app, 2, "despues")
    result = verified(app)
    assert result.exit_code == 0, result.output
    assert f"ok {len(before) + len(events_meanwhile) + 1 + len(after)}" in result.output
