"""Audit anchors (CONTRACT.md §6): the sealed head of the chain, kept outside the database,
so that a chain rolled back by someone with the owner's rights no longer verifies."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from app import create_app
from app.audit.anchors import AutoAnchor, anchor_mac, parse_anchor
from app.audit.models import AuditEvent
from app.audit.seal import seal
from app.audit.service import AUDIT_WRITTEN, Actor, record_event, verify_chain
from app.extensions import db
from config import Settings
from tests.conftest import USING_PG
from tests.factories import intake

REPO = Path(__file__).resolve().parent.parent
FIELDS = {"count", "last_id", "last_hmac", "at", "mac"}
LATER = 601  # seconds: past the default interval of 600


def write_events(app: Flask, how_many: int) -> None:
    with app.app_context():
        key = app.extensions["ruta.keyring"].audit_key
        for n in range(how_many):
            actor = Actor(n, f"usuario{n}", "PNC-SON", "pnc_agent", "10.0.0.1")
            record_event(db.session, key, actor, "case_search", detail=f"results={n}")
        db.session.commit()
        seal(db.session, key)  # as the app does within a second


def cli(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def anchor_lines(settings: Settings) -> list[dict]:
    assert settings.audit_anchor_dir is not None
    files = sorted(settings.audit_anchor_dir.glob("anchors-*.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def newest_file(settings: Settings) -> Path:
    assert settings.audit_anchor_dir is not None
    return sorted(settings.audit_anchor_dir.glob("anchors-*.jsonl"))[-1]


def event_count(app: Flask) -> int:
    with app.app_context():
        return len(db.session.execute(select(AuditEvent.id)).all())


def hmac_of(app: Flask, event_id: int) -> str:
    """The HMAC of the event's link: what an anchor ending there holds."""
    with app.app_context():
        return db.session.execute(
            text("SELECT hmac FROM audit_links WHERE event_id = :id"), {"id": event_id}
        ).scalar_one()


def execute(app: Flask, sql: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()


@pytest.fixture
def unprotected(app):
    """A DBA switches the append-only guard of migration 0003 off, as the owner may."""
    for table in ("audit_events", "audit_links"):
        if USING_PG:
            execute(app, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            execute(app, f"DROP TRIGGER {table}_no_update")
            execute(app, f"DROP TRIGGER {table}_no_delete")
    yield
    if USING_PG:  # the schema outlives this test
        for table in ("audit_events", "audit_links"):
            execute(app, f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def saved_head(app: Flask) -> dict:
    with app.app_context():
        row = db.session.execute(
            text(
                "SELECT last_event_id, last_hmac, count, floor, head_mac FROM audit_head "
                "WHERE id = 1"
            )
        ).one()
        return dict(row._mapping)


def put_head_back(app: Flask, head: dict) -> None:
    execute(
        app,
        "UPDATE audit_head SET last_event_id = :last_event_id, last_hmac = :last_hmac, "
        "count = :count, floor = :floor, head_mac = :head_mac WHERE id = 1",
        **head,
    )


def roll_back_to(app: Flask, head: dict) -> None:
    """The attack of issue 15: delete every event and link after the saved head, put the
    head back."""
    execute(app, "DELETE FROM audit_events WHERE id > :id", id=head["last_event_id"])
    execute(app, "DELETE FROM audit_links WHERE seq > :n", n=head["count"])
    put_head_back(app, head)


# ---- the command and the file -----------------------------------------------------------------


def test_audit_anchor_appends_one_sealed_line_with_the_head(app, settings):
    write_events(app, 5)

    first = cli(app, "audit", "anchor")
    second = cli(app, "audit", "anchor")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    lines = anchor_lines(settings)
    assert len(lines) == 2
    line = lines[0]
    assert set(line) == FIELDS
    assert (line["count"], line["last_id"], line["last_hmac"]) == (5, 5, hmac_of(app, 5))
    at = datetime.fromisoformat(line["at"])
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - at).total_seconds()) < 60
    key = app.extensions["ruta.keyring"].audit_key
    assert parse_anchor(json.dumps(line), key) is not None
    path = newest_file(settings)
    assert path.name == f"anchors-{at.date().isoformat()}.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert str(path) in first.output


def test_verify_without_an_anchor_passes_and_says_so(app, settings):
    write_events(app, 3)
    result = cli(app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok 3 events"
    assert "no anchor yet" in result.stderr


def test_verify_is_ok_after_anchoring_and_more_events(app, settings):
    write_events(app, 4)
    assert cli(app, "audit", "anchor").exit_code == 0
    write_events(app, 2)  # the chain goes on past its anchor: fine

    result = cli(app, "audit", "verify")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok 6 events"
    at = anchor_lines(settings)[0]["at"]
    assert f"anchor of {at} (4 events) ok" in result.stderr


# ---- the attacks --------------------------------------------------------------------------------


def test_chain_rolled_back_with_its_saved_head_fails_because_of_the_anchor(app, unprotected):
    """Issue 15: the DBA keeps the head of event 8, deletes 9-12 and puts the head back.
    The chain alone still verifies; the anchor of 12 events does not let it pass."""
    write_events(app, 8)
    head_of_8 = saved_head(app)
    write_events(app, 4)
    assert cli(app, "audit", "anchor").exit_code == 0

    roll_back_to(app, head_of_8)

    with app.app_context():
        fooled = verify_chain(db.session, app.extensions["ruta.keyring"].audit_key)
    assert fooled.ok and fooled.events == 8  # what the anchor is for
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1
    assert "broken at event 9: missing" in result.stderr
    assert "counted 12 events" in result.stderr
    assert not result.stdout.startswith("ok")


def test_rolled_back_chain_that_grew_again_differs_from_the_anchor(app, settings, unprotected):
    """After the rollback the app writes events 9-12 anew: as long a chain, another history."""
    write_events(app, 8)
    head_of_8 = saved_head(app)
    write_events(app, 4)
    assert cli(app, "audit", "anchor").exit_code == 0
    roll_back_to(app, head_of_8)
    write_events(app, 4)

    result = cli(app, "audit", "verify")

    assert result.exit_code == 1
    assert "broken at event 12: differs from the anchor" in result.stderr
    refused = cli(app, "audit", "anchor")  # and no anchor launders the new history
    assert refused.exit_code == 1
    assert "does not continue its newest anchor" in refused.output
    assert len(anchor_lines(settings)) == 1


def test_truncated_chain_fails_naming_the_first_missing_event(app, unprotected):
    write_events(app, 10)
    assert cli(app, "audit", "anchor").exit_code == 0
    execute(app, "DELETE FROM audit_events WHERE id > 6")

    result = cli(app, "audit", "verify")

    assert result.exit_code == 1
    assert "broken at event 7" in result.stderr
    assert "event 8" not in result.stderr


def _tamper_count(line: dict) -> dict:
    return {**line, "count": line["count"] + 5, "last_id": line["last_id"] + 5}


def _reseal_with_a_guessed_key(line: dict) -> dict:
    forged = _tamper_count(line)
    args = (forged["count"], forged["last_id"], forged["last_hmac"], forged["at"])
    return {**forged, "mac": anchor_mac(b"\x00" * 32, *args)}


def _drop_the_mac(line: dict) -> dict:
    return {key: value for key, value in line.items() if key != "mac"}


@pytest.mark.parametrize("forge", [_tamper_count, _reseal_with_a_guessed_key, _drop_the_mac])
def test_a_forged_anchor_line_fails_verify(app, settings, forge):
    write_events(app, 3)
    assert cli(app, "audit", "anchor").exit_code == 0
    path = newest_file(settings)
    path.write_text(json.dumps(forge(anchor_lines(settings)[0])) + "\n")

    result = cli(app, "audit", "verify")

    assert result.exit_code == 1
    assert "line 1 is not a valid anchor" in result.stderr


def test_a_damaged_line_among_good_ones_fails_verify(app, settings):
    write_events(app, 2)
    assert cli(app, "audit", "anchor").exit_code == 0
    with newest_file(settings).open("a") as handle:
        handle.write('{"count": 99, "last_id": \n')
    assert cli(app, "audit", "anchor").exit_code == 1  # nor is a new anchor trusted to it

    result = cli(app, "audit", "verify")

    assert result.exit_code == 1
    assert "line 2 is not a valid anchor" in result.stderr


def _cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUTA_", "FLASK_")) and "DATABASE_URL" not in key
    }
    secret_file = tmp_path / "cli_secret_key"
    secret_file.write_text(settings.secret_key or "")
    env.update(
        DATABASE_URL=settings.database_url,
        RUTA_KEY_FILE=str(settings.key_file),
        RUTA_SECRET_FILE=str(secret_file),
        RUTA_ATTACHMENTS_DIR=str(tmp_path / "att"),
        RUTA_AUDIT_ANCHOR_DIR=str(settings.audit_anchor_dir),
    )
    env.pop("REDIS_URL", None)
    return env


def test_real_command_line_refuses_the_rolled_back_chain(app, settings, unprotected, tmp_path):
    """`flask --app wsgi audit anchor|verify` in their own process, on this test's database."""
    env = _cli_env(settings, tmp_path)
    write_events(app, 3)
    head_of_3 = saved_head(app)
    write_events(app, 2)

    def flask(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)

    anchored = flask("audit", "anchor")
    assert anchored.returncode == 0, anchored.stderr
    assert "anchored 5 events" in anchored.stdout
    verified = flask("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "ok 5 events"

    roll_back_to(app, head_of_3)
    broken = flask("audit", "verify")

    assert broken.returncode == 1
    assert "broken at event 4" in broken.stderr
    assert "Traceback" not in broken.stderr


# ---- the application anchors by itself ---------------------------------------------------------


def anchoring_of(app: Flask) -> AutoAnchor:
    return app.extensions["ruta.anchoring"]


def later(anchoring: AutoAnchor, seconds: float) -> None:
    """This process's clock moves on; the file's time stays what the disk says."""
    anchoring.clock = lambda: time.time() + seconds


def test_app_anchors_after_an_audited_request_once_the_interval_passed(app, client, pnc, settings):
    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201
    case_url = f"/api/v1/cases/{created.get_json()['id']}"
    assert [line["count"] for line in anchor_lines(settings)] == [event_count(app)]

    assert client.get(case_url, headers=pnc.headers).status_code == 200
    assert len(anchor_lines(settings)) == 1  # the newest anchor is fresh

    later(anchoring_of(app), LATER)
    before = event_count(app)
    assert client.get("/api/v1/institutions", headers=pnc.headers).status_code == 200
    assert event_count(app) == before  # nothing audited: nothing to anchor
    assert len(anchor_lines(settings)) == 1

    assert client.get(case_url, headers=pnc.headers).status_code == 200

    lines = anchor_lines(settings)
    assert len(lines) == 2
    assert lines[1]["count"] == event_count(app) > lines[0]["count"]
    assert lines[1]["last_hmac"] == hmac_of(app, lines[1]["last_id"])
    assert cli(app, "audit", "verify").exit_code == 0


def test_a_second_worker_leaves_a_fresh_anchor_alone(app, client, pnc, settings):
    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201
    case_url = f"/api/v1/cases/{created.get_json()['id']}"
    assert len(anchor_lines(settings)) == 1
    other = create_app(settings)  # another gunicorn worker: its own clock, the same directory
    try:
        other_client = other.test_client()
        assert other_client.get(case_url, headers=pnc.headers).status_code == 200
        assert len(anchor_lines(settings)) == 1  # it saw the first worker's fresh anchor

        later(anchoring_of(other), LATER)
        assert other_client.get(case_url, headers=pnc.headers).status_code == 200
        assert [line["count"] for line in anchor_lines(settings)][-1] == event_count(app)
        assert len(anchor_lines(settings)) == 2
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_interval_comes_from_the_environment(tmp_path):
    env = {"RUTA_SECRET_FILE": str(tmp_path / "secret"), "RUTA_AUDIT_ANCHOR_SECONDS": "30"}
    config = Settings.from_env(env).to_flask()
    assert config["RUTA_AUDIT_ANCHOR_SECONDS"] == 30
    assert config["RUTA_AUDIT_ANCHOR_DIR"] == tmp_path / "audit-anchors"  # beside the secret
    chosen = Settings.from_env({**env, "RUTA_AUDIT_ANCHOR_DIR": str(tmp_path / "a")})
    assert chosen.to_flask()["RUTA_AUDIT_ANCHOR_DIR"] == tmp_path / "a"


def test_app_refuses_to_anchor_a_rolled_back_chain_and_says_so(app, settings, unprotected, caplog):
    write_events(app, 4)
    head_of_4 = saved_head(app)
    write_events(app, 3)
    assert cli(app, "audit", "anchor").exit_code == 0
    roll_back_to(app, head_of_4)
    anchoring = anchoring_of(app)
    later(anchoring, LATER)

    with app.app_context():
        db.session.info[AUDIT_WRITTEN] = True
        anchoring.after_commit(db.session, lambda: app.extensions["ruta.keyring"].audit_key)

    assert len(anchor_lines(settings)) == 1
    assert "does not continue its newest anchor" in caplog.text


def test_a_failing_anchor_does_not_fail_the_request(app, client, pnc, settings, caplog):
    assert settings.audit_anchor_dir is not None
    settings.audit_anchor_dir.write_text("a file where the directory should be")

    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)

    assert created.status_code == 201
    assert "audit anchor not written" in caplog.text
    read = client.get(f"/api/v1/cases/{created.get_json()['id']}", headers=pnc.headers)
    assert read.status_code == 200


def test_keys_rotate_anchors_the_chain(app, settings):
    write_events(app, 3)

    rotated = cli(app, "keys", "rotate")

    assert rotated.exit_code == 0, rotated.output
    lines = anchor_lines(settings)
    assert [(line["count"], line["last_hmac"]) for line in lines] == [(3, hmac_of(app, 3))]
    assert "anchored 3 events" in rotated.output


def test_the_anchor_of_an_empty_chain_verifies(app, settings):
    assert cli(app, "audit", "anchor").exit_code == 0
    assert anchor_lines(settings)[0]["count"] == 0
    write_events(app, 1)
    assert cli(app, "audit", "verify").exit_code == 0
