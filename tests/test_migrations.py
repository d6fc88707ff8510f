"""Migrations go down and up again with data in the tables, and agree with the models.

Runs on whichever database the `settings` fixture gives (SQLite, or PostgreSQL with
TEST_DATABASE_URL). Every migration is exercised, so a new revision is covered the day
it is added.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from pathlib import Path
from typing import Any

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import DateTime, inspect, select, text
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from app.auth.models import User
from app.auth.service import create_user, issue_token
from app.cases.models import Case
from app.cli.demo import load_directory
from app.core.db import UTCDateTime
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, Person
from tests.report_helpers import valid_dui

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
NARRATIVE = "Relato que debe sobrevivir a la migración, byte por byte: ñandú."
COMPLAINT_NUMBER = "DEN-SON-2026-0042"
COURT = "Juzgado Especializado de Instrucción de Santa Ana"
GLASS_REASON = "Prueba de migración con datos"


def script() -> ScriptDirectory:
    return ScriptDirectory(MIGRATIONS)


def revisions_newest_first() -> list[Any]:
    return list(script().walk_revisions("base", "heads"))


def current_revision(app: Flask) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(app: Flask, action: str, revision: str) -> None:
    """Run a migration the way `flask db` does, with no session of ours holding a lock."""
    with app.app_context():
        db.session.remove()
        getattr(flask_migrate, action)(directory=MIGRATIONS, revision=revision)
        db.session.remove()


def table_names(app: Flask) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def open_case_with_history(client: FlaskClient, pnc: Person, supervisor: Person) -> str:
    created = client.post(
        "/api/v1/cases",
        json=factories.intake(incident_overrides={"narrative": NARRATIVE}),
        headers=pnc.headers,
    )
    assert created.status_code == 201, created.get_json()
    case_id = created.get_json()["id"]
    more = client.post(
        f"/api/v1/cases/{case_id}/incidents",
        json=factories.incident(occurred_on="2026-11-02", narrative="Segundo hecho."),
        headers=pnc.headers,
    )
    assert more.status_code == 201, more.get_json()
    # Rows in tables of later migrations too, so that their downgrade meets data.
    glass = client.post(
        f"/api/v1/cases/{case_id}/break-glass",
        json={"reason": GLASS_REASON, "password": PASSWORD},
        headers=supervisor.headers,
    )
    assert glass.status_code == 201, glass.get_json()
    complaint = client.post(
        f"/api/v1/cases/{case_id}/complaints",
        json={"number": COMPLAINT_NUMBER, "measures": [{"measure": "keep_away", "court": COURT}]},
        headers=pnc.headers,
    )
    assert complaint.status_code == 201, complaint.get_json()
    return case_id


def assert_case_reads_back(client: FlaskClient, pnc: Person, case_id: str) -> None:
    read = client.get(f"/api/v1/cases/{case_id}", headers=pnc.headers)
    assert read.status_code == 200, read.get_json()
    record = read.get_json()
    assert record["survivor"]["given_names"] == "María José"
    assert sorted(i["narrative"] for i in record["incidents"]) == sorted(
        [NARRATIVE, "Segundo hecho."]
    )


def test_the_migration_history_is_one_straight_line():
    heads = script().get_heads()
    assert len(heads) == 1, f"several heads: {heads}; add a merge revision"
    revisions = revisions_newest_first()
    assert revisions[-1].down_revision is None
    for newer, older in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision


def test_each_later_migration_downgrades_and_upgrades_keeping_the_cases(
    app, client, pnc, supervisor
):
    case_id = open_case_with_history(client, pnc, supervisor)
    head = script().get_current_head()
    assert current_revision(app) == head

    # Step down one revision at a time to the first, back up to head after each step.
    for revision in revisions_newest_first()[:-1]:
        migrate(app, "downgrade", revision.down_revision)
        assert current_revision(app) == revision.down_revision
        migrate(app, "upgrade", "head")
        assert current_revision(app) == head
        assert_case_reads_back(client, pnc, case_id)


def _plain_and_sealed(app: Flask, table: str, plain: str, sealed: str) -> tuple[Any, Any]:
    with app.app_context(), db.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns(table)}
        row = conn.execute(
            select(*(sa_column(name) for name in (plain, sealed) if name in columns)).select_from(
                sa_table(table)
            )
        ).one()
        values = dict(zip([n for n in (plain, sealed) if n in columns], row, strict=True))
    return values.get(plain), values.get(sealed)


SEALED = (
    ("complaints", "number", "number_enc", COMPLAINT_NUMBER),
    ("protection_measures", "court", "court_enc", COURT),
    ("break_glass", "reason", "reason_enc", GLASS_REASON),
)


def test_0007_seals_the_plaintext_of_0006_and_its_downgrade_opens_it(app, client, pnc, supervisor):
    case_id = open_case_with_history(client, pnc, supervisor)
    with app.app_context():
        made = create_user(
            db.session,
            app.extensions["ruta.keyring"],
            username="espera.pnc",
            institution_code="PNC-SON",
            role="pnc_agent",
            requested_by=db.session.get_one(User, supervisor.id),
        )
        db.session.commit()
        waiting_id = made.user.id

    migrate(app, "downgrade", "0006")
    for table, plain, sealed, value in SEALED:
        assert _plain_and_sealed(app, table, plain, sealed) == (value, None), table

    migrate(app, "upgrade", "head")
    for table, plain, sealed, value in SEALED:
        stored, blob = _plain_and_sealed(app, table, plain, sealed)
        assert stored is None and value.encode() not in blob, table
    assert_case_reads_back(client, pnc, case_id)
    record = client.get(f"/api/v1/cases/{case_id}", headers=pnc.headers).get_json()
    assert [c["number"] for c in record["complaints"]] == [COMPLAINT_NUMBER]
    assert record["complaints"][0]["measures"][0]["court"] == COURT
    queue = client.get("/api/v1/break-glass", headers=supervisor.headers)
    assert [item["reason"] for item in queue.get_json()["items"]] == [GLASS_REASON]
    with app.app_context():
        # Everyone on file before 0007 counts as approved; the account still waiting when
        # 0006 came back (where nothing stops it) was disabled on the way down.
        waiting = db.session.execute(select(User.id).where(User.approved_at.is_(None))).all()
        assert waiting == []
        assert db.session.get_one(User, waiting_id).active is False
        assert db.session.get_one(User, pnc.id).active is True


def test_downgrade_to_base_with_data_and_upgrade_again(app, client, pnc, supervisor):
    open_case_with_history(client, pnc, supervisor)
    tables_at_head = table_names(app)

    migrate(app, "downgrade", "base")
    assert current_revision(app) is None
    assert table_names(app) - {"alembic_version"} == set()

    migrate(app, "upgrade", "head")
    assert current_revision(app) == script().get_current_head()
    assert table_names(app) == tables_at_head
    # The rebuilt schema takes a new record at once.
    with app.app_context():
        load_directory(db.session)
        db.session.commit()
    # The old token went with the dropped tables; a new user is needed.
    with app.app_context():
        ring = app.extensions["ruta.keyring"]
        new = create_user(
            db.session,
            ring,
            username="tras.migracion",
            institution_code="PNC-SON",
            role="pnc_agent",
            password=PASSWORD,
            with_totp=True,
        )
        token, _ = issue_token(db.session, new.user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    created = client.post(
        "/api/v1/cases", json=factories.intake(), headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["matched_existing"] is False
    with app.app_context():
        assert db.session.get(Case, uuid.UUID(created.get_json()["id"])) is not None
        assert len(db.session.execute(select(Case)).scalars().all()) == 1


def test_running_migrations_leaves_the_app_loggers_on(app):
    # Alembic's env.py configures logging from alembic.ini; with the default
    # `disable_existing_loggers=True` it silences every logger already made, the app's
    # error log among them, in any process that migrates (./run.sh, the tests).
    migrate(app, "downgrade", revisions_newest_first()[0].down_revision or "base")
    migrate(app, "upgrade", "head")
    for name in ("ruta", app.logger.name):
        assert not logging.getLogger(name).disabled, name


def _only_utc_wrapper(diff: Any) -> bool:
    """UTCDateTime is a DateTime in the schema: that difference is by design."""
    if not (isinstance(diff, tuple) and diff[0] == "modify_type"):
        return False
    old_type, new_type = diff[5], diff[6]
    return isinstance(old_type, DateTime) and isinstance(new_type, UTCDateTime)


def _flatten(diffs: list[Any]) -> list[Any]:
    flat = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    remaining = [diff for diff in _flatten(diffs) if not _only_utc_wrapper(diff)]
    assert remaining == [], "models differ from the migrations; run `flask db migrate`"


def test_0032_finds_the_repeats_already_on_record(app, client, pnc, supervisor):
    """Its tables start with every case that has two incidents in a year, and every
    statistics code two records hold: a year's counts of cases and women need them."""
    case_id = open_case_with_history(client, pnc, supervisor)
    for occurred_on in ("2026-02-02", "2026-07-07"):
        added = client.post(
            f"/api/v1/cases/{case_id}/incidents",
            json=factories.incident(occurred_on=occurred_on),
            headers=pnc.headers,
        )
        assert added.status_code == 201, added.get_json()
    second_woman = factories.intake(
        survivor_overrides={"given_names": "Otra", "family_names": "Mujer", "dui": valid_dui(7)}
    )
    assert client.post("/api/v1/cases", json=second_woman, headers=pnc.headers).status_code == 201
    migrate(app, "downgrade", "0031")
    with app.app_context():  # two records of one woman, as before a merge
        db.session.execute(text("UPDATE survivors SET stat_code = 'compartido'"))
        db.session.commit()
    migrate(app, "upgrade", "head")
    with app.app_context():
        repeats = db.session.execute(text("SELECT year FROM stat_repeats")).scalars().all()
        shared = db.session.execute(text("SELECT stat_code FROM stat_shared_codes")).scalars()
        assert repeats == [2026]
        assert list(shared) == ["compartido"]
