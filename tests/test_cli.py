"""The command line of CONTRACT.md §2, run for real: `python -m flask --app wsgi …`.

Each test works on its own SQLite file, key file and secret in tmp_path, whatever
TEST_DATABASE_URL says: the point here is the command line, not the database. A
subprocess costs about a second, so each test groups the checks of one story.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from flask import Flask

from app import create_app
from app.auth.service import create_user, issue_token
from app.cli.demo import load_directory
from app.crypto.envelope import wrapped_kek_id
from app.crypto.keyring import KeyMaterial, KeyRing, read_key_file, write_key_file
from app.crypto.service import rewrap_batch
from app.extensions import db
from config import Settings
from tests import factories
from tests.auth_helpers import otp
from tests.conftest import migrate_to_head

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "una clave larga para la prueba"

# DOMAIN.md, "Demo network": code -> (name, kind, municipality). Copied from the
# document, not imported from app.cli.demo, so the test checks the code against the spec.
DEMO_NETWORK = {
    "PNC-SON": ("PNC — UNIMUJER-ODAC Sonsonate", "pnc_family_unit", "Sonsonate"),
    "PNC-ACA": ("PNC — Unidad de Familia Acajutla", "pnc_family_unit", "Acajutla"),
    "PNC-SZC": ("PNC — Unidad de Familia Sonzacate", "pnc_family_unit", "Sonzacate"),
    "HOSP-SON": ("Hospital Nacional de Sonsonate", "health_unit", "Sonsonate"),
    "US-SON": ("Unidad de Salud Sonsonate", "health_unit", "Sonsonate"),
    "US-ACA": ("Unidad de Salud Acajutla", "health_unit", "Acajutla"),
    "US-SZC": ("Unidad de Salud Sonzacate", "health_unit", "Sonzacate"),
    "IML-SON": ("Medicina Legal Sonsonate", "forensic", "Sonsonate"),
    "UMM-SON": ("Unidad Municipal de la Mujer Sonsonate", "womens_office", "Sonsonate"),
    "UMM-ACA": ("Unidad Municipal de la Mujer Acajutla", "womens_office", "Acajutla"),
    "UMM-SZC": ("Unidad Municipal de la Mujer Sonzacate", "womens_office", "Sonzacate"),
    "ISDEMU-SON": ("ISDEMU Sonsonate", "womens_office", "Sonsonate"),
    "FGR-SON": ("Fiscalía — Unidad de Atención a la Mujer", "prosecutor", "Sonsonate"),
    "PGR-SON": ("Procuraduría — Unidad de Género", "legal_aid", "Sonsonate"),
    "JUZ-SON": (
        "Juzgado Especializado para una Vida Libre de Violencia",
        "court",
        "Sonsonate",
    ),
    "RED-SON": ("Red Interinstitucional de Atención de Sonsonate", "coordination", "Sonsonate"),
    "SYS": ("Administración del sistema", "system", "Sonsonate"),
    # Issue 13 adds a shelter for the shelter role and a second department (Santa Ana).
    "ALB-SON": ("Casa de acogida de la red (demo)", "shelter", "Sonsonate"),
    "PNC-STA": ("PNC — Unidad de Familia Santa Ana (demo)", "pnc_family_unit", "Santa Ana"),
    "HOSP-STA": ("Hospital Nacional de Santa Ana (demo)", "health_unit", "Santa Ana"),
    "UMM-STA": ("Unidad Municipal de la Mujer Santa Ana (demo)", "womens_office", "Santa Ana"),
    "FGR-STA": (
        "Fiscalía — Unidad de Atención a la Mujer Santa Ana (demo)",
        "prosecutor",
        "Santa Ana",
    ),
    "JUZ-STA": (
        "Juzgado de Santa Ana para una Vida Libre de Violencia (demo)",
        "court",
        "Santa Ana",
    ),
    "RED-STA": ("Red Interinstitucional de Santa Ana (demo)", "coordination", "Santa Ana"),
}
DEMO_USERS = {
    "agente.pnc": ("PNC-SON", "pnc_agent"),
    "salud.son": ("US-SON", "health_staff"),
    "mujer.son": ("UMM-SON", "womens_office"),
    "supervisora": ("RED-SON", "supervisor"),
    "admin": ("SYS", "admin"),
    # Issue 13: one per new role, and the second department's front line and supervisor.
    "fiscal.son": ("FGR-SON", "prosecutor_staff"),
    "juzgado.son": ("JUZ-SON", "court_staff"),
    "pgr.son": ("PGR-SON", "legal_aid_staff"),
    "acogida.son": ("ALB-SON", "shelter_staff"),
    "agente.sta": ("PNC-STA", "pnc_agent"),
    "mujer.sta": ("UMM-STA", "womens_office"),
    "supervisora.sta": ("RED-STA", "supervisor"),
}


# ---- running the command line --------------------------------------------------------------


def cli_env(tmp: Path) -> dict[str, str]:
    """The caller's environment without any Ruta setting, pointed at tmp."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUTA_", "FLASK_")) and "DATABASE_URL" not in key
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'ruta.db'}",
        RUTA_KEY_FILE=str(tmp / "keys" / "kek"),
        RUTA_SECRET_FILE=str(tmp / "secret_key"),
        RUTA_ATTACHMENTS_DIR=str(tmp / "attachments"),
        RUTA_REQUIRE_MFA="1",
    )
    env.pop("REDIS_URL", None)
    return env


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_server_app(env: dict[str, str]) -> subprocess.CompletedProcess:
    """What gunicorn does: import wsgi outside the flask command (strict start-up)."""
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def query(env: dict[str, str], sql: str, *params: Any) -> list[tuple]:
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(env: dict[str, str], sql: str, *params: Any) -> Any:
    return query(env, sql, *params)[0][0]


@contextmanager
def built(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def prepared(tmp: Path) -> tuple[dict[str, str], Settings]:
    """What `keys init`, `db upgrade` and the directory part of `demo load` leave behind,
    made in-process to spare the subprocesses that the first test already runs."""
    env = cli_env(tmp)
    write_key_file(Path(env["RUTA_KEY_FILE"]), KeyMaterial.generate())
    Path(env["RUTA_SECRET_FILE"]).write_text(secrets.token_hex(32))
    settings = Settings.from_env(env)
    migrate_to_head(settings)
    with built(settings) as app, app.app_context():
        load_directory(db.session)
        db.session.commit()
    return env, settings


def api_login(app: Flask, username: str, password: str, totp_secret: str) -> int:
    response = app.test_client().post(
        "/api/v1/auth/token",
        json={"username": username, "password": password, "otp": otp(totp_secret)},
    )
    return response.status_code


# ---- the tests ---------------------------------------------------------------------------------


def test_first_run_keys_init_db_upgrade_and_demo_load(tmp_path):
    env = cli_env(tmp_path)
    key_file, secret_file = Path(env["RUTA_KEY_FILE"]), Path(env["RUTA_SECRET_FILE"])
    repo_logins = REPO / "instance" / "demo-logins.txt"
    repo_logins_before = repo_logins.read_bytes() if repo_logins.exists() else None

    refused = start_server_app(env)
    assert refused.returncode != 0
    assert "StartupError" in refused.stderr

    first = flask(env, "keys", "init")
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    material = read_key_file(key_file)
    assert material.active_kek_id in first.stdout
    shown = first.stdout + first.stderr
    for key in [*material.keks.values(), material.index_key, material.audit_key]:
        assert base64.b64encode(key).decode() not in shown
        assert key.hex() not in shown
    assert secret_file.read_text().strip() not in shown

    key_bytes, secret_bytes = key_file.read_bytes(), secret_file.read_bytes()
    again = flask(env, "keys", "init")
    assert again.returncode == 0, again.stderr
    assert material.active_kek_id in again.stdout
    assert key_file.read_bytes() == key_bytes
    assert secret_file.read_bytes() == secret_bytes

    upgraded = flask(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    head = ScriptDirectory(str(REPO / "migrations")).get_current_head()
    assert query(env, "SELECT version_num FROM alembic_version") == [(head,)]

    demo = flask(env, "demo", "load")
    assert demo.returncode == 0, demo.stderr
    for username in DEMO_USERS:
        assert username in demo.stdout
    assert demo.stdout.count("TOTP secret: ") == len(DEMO_USERS)
    assert "TOTP secret: -" not in demo.stdout  # MFA is on: every demo user has a secret
    institutions = query(
        env,
        "SELECT i.code, i.name, i.kind, m.name FROM institutions i "
        "JOIN municipalities m ON m.code = i.municipality",
    )
    assert {code: (name, kind, town) for code, name, kind, town in institutions} == DEMO_NETWORK
    users = query(
        env,
        "SELECT u.username, i.code, u.role FROM users u JOIN institutions i "
        "ON i.id = u.institution_id",
    )
    assert {name: (code, role) for name, code, role in users} == DEMO_USERS
    logins_file = secret_file.parent / "demo-logins.txt"
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    assert (repo_logins.read_bytes() if repo_logins.exists() else None) == repo_logins_before

    demo_again = flask(env, "demo", "load")
    assert demo_again.returncode == 0, demo_again.stderr
    assert "TOTP secret" not in demo_again.stdout
    assert "password" not in demo_again.stdout.lower()
    assert scalar(env, "SELECT count(*) FROM institutions") == len(DEMO_NETWORK)
    assert scalar(env, "SELECT count(*) FROM users") == len(DEMO_USERS)
    assert scalar(env, "SELECT count(*) FROM users WHERE approved_at IS NULL") == 0


def test_users_create_prints_one_json_line_and_the_user_can_log_in(tmp_path):
    env, settings = prepared(tmp_path)

    made = flask(
        env,
        "users",
        "create",
        "x",
        "--institution",
        "PNC-SON",
        "--role",
        "pnc_agent",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )

    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert set(line) == {"id", "username", "totp_secret"}
    assert line["username"] == "x"
    assert isinstance(line["id"], int)
    assert isinstance(line["totp_secret"], str)
    assert len(line["totp_secret"]) >= 16
    assert PASSWORD not in made.stdout + made.stderr
    row = query(
        env,
        "SELECT u.role, i.code, u.must_change_password, u.totp_enrolled, "
        "u.approved_at IS NOT NULL FROM users u "
        "JOIN institutions i ON i.id = u.institution_id WHERE u.id = ?",
        line["id"],
    )
    # Ready at once: an operator's account needs no supervisor's approval.
    assert row == [("pnc_agent", "PNC-SON", 0, 1, 1)]
    assert (
        line["totp_secret"].encode()
        not in Path(env["DATABASE_URL"].removeprefix("sqlite:///")).read_bytes()
    )
    with built(settings) as app:
        assert api_login(app, "x", PASSWORD, line["totp_secret"]) == 200


def test_users_create_refuses_bad_input_and_creates_nothing(tmp_path):
    env, _ = prepared(tmp_path)
    made = flask(
        env,
        "users",
        "create",
        "ana",
        "--institution",
        "PNC-SON",
        "--role",
        "pnc_agent",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    counts = ("users", "data_keys", "audit_events")
    before = {table: scalar(env, f"SELECT count(*) FROM {table}") for table in counts}  # noqa: S608
    password_hash = scalar(env, "SELECT password_hash FROM users WHERE username = 'ana'")

    attempts = {
        "role": ("beto", "PNC-SON", "chief"),
        "institution": ("beto", "NOPE-XYZ", "pnc_agent"),
        "kind": ("beto", "US-SON", "pnc_agent"),
        "exists": ("ANA", "PNC-SON", "pnc_agent"),  # same name once folded to lower case
    }
    for expected, (username, institution, role) in attempts.items():
        refused = flask(
            env,
            "users",
            "create",
            username,
            "--institution",
            institution,
            "--role",
            role,
            "--password-stdin",
            stdin="otra clave distinta y larga\n",
        )
        assert refused.returncode == 1, (expected, refused.stdout, refused.stderr)
        assert refused.stdout == ""
        assert refused.stderr.startswith("Error: ")
        assert expected in refused.stderr.lower()
        assert "Traceback" not in refused.stderr

    empty = flask(
        env,
        "users",
        "create",
        "beto",
        "--institution",
        "PNC-SON",
        "--role",
        "pnc_agent",
        "--password-stdin",
        stdin="",
    )
    assert empty.returncode == 1
    assert "password" in empty.stderr

    after = {table: scalar(env, f"SELECT count(*) FROM {table}") for table in counts}  # noqa: S608
    assert after == before
    assert scalar(env, "SELECT password_hash FROM users WHERE username = 'ana'") == password_hash


def test_audit_verify_counts_events_and_names_the_first_altered_one(tmp_path):
    env, settings = prepared(tmp_path)
    with built(settings) as app:
        with app.app_context():
            ring = app.extensions["ruta.keyring"]
            new = create_user(
                db.session,
                ring,
                username="carla",
                institution_code="US-SON",
                role="health_staff",
                password=PASSWORD,
                with_totp=True,
            )
            db.session.commit()
        assert api_login(app, "carla", PASSWORD, new.totp_secret) == 200
        assert api_login(app, "carla", "wrong password", new.totp_secret) == 401
        assert api_login(app, "nobody", PASSWORD, new.totp_secret) == 401
    events = scalar(env, "SELECT count(*) FROM audit_events")
    assert events >= 3

    verified = flask(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == f"ok {events} events"

    # Someone with the database file removes the guard and rewrites the second event.
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for (trigger,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
        ).fetchall():
            conn.execute(f'DROP TRIGGER "{trigger}"')
        conn.execute("UPDATE audit_events SET username = 'alguien' WHERE id = 2")
        conn.commit()

    broken = flask(env, "audit", "verify")
    assert broken.returncode == 1
    assert "event 2" in broken.stdout + broken.stderr
    assert not broken.stdout.startswith("ok")


def test_keys_rotate_rewraps_every_data_key_and_the_old_kek_can_go(tmp_path):
    env, settings = prepared(tmp_path)
    key_file = settings.key_file
    first_kek = read_key_file(key_file).active_kek_id
    people = {}
    with built(settings) as app:
        with app.app_context():
            ring = app.extensions["ruta.keyring"]
            for n in range(5):
                new = create_user(
                    db.session,
                    ring,
                    username=f"agente{n}",
                    institution_code="PNC-SON",
                    role="pnc_agent",
                    password=PASSWORD,
                    with_totp=True,
                )
                people[new.user.username] = new.totp_secret
            token, _ = issue_token(db.session, new.user, settings.token_lifetime)
            db.session.commit()
        client = app.test_client()
        case = client.post(
            "/api/v1/cases", json=factories.intake(), headers={"Authorization": f"Bearer {token}"}
        )
        assert case.status_code == 201, case.get_json()
        case_id = case.get_json()["id"]
        # An earlier rotation was interrupted after one batch: keys under two KEKs.
        with app.app_context():
            ring = app.extensions["ruta.keyring"]
            ring.rotate()
            assert rewrap_batch(db.session, ring, 2) == 2
            db.session.commit()
    kek_ids = {kek for (kek,) in query(env, "SELECT kek_id FROM data_keys")}
    assert len(kek_ids) == 2
    total = scalar(env, "SELECT count(*) FROM data_keys")
    assert total == 6  # five users and one case

    rotated = flask(env, "keys", "rotate", "--batch", "2")

    assert rotated.returncode == 0, rotated.stderr
    material = read_key_file(key_file)
    new_kek = material.active_kek_id
    assert new_kek not in kek_ids
    assert first_kek in material.keks  # the old KEKs stay until the operator removes them
    assert new_kek in rotated.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    rows = query(env, "SELECT kek_id, wrapped FROM data_keys")
    assert len(rows) == total
    assert all(kek == new_kek and wrapped_kek_id(blob) == new_kek for kek, blob in rows)
    (canary,) = query(env, "SELECT kek_blob FROM crypto_canary")
    assert wrapped_kek_id(canary[0]) == new_kek

    # Proof that nothing still needs an old KEK: drop them all, then serve.
    write_key_file(
        key_file,
        KeyMaterial(
            keks={new_kek: material.keks[new_kek]},
            active_kek_id=new_kek,
            index_key=material.index_key,
            audit_key=material.audit_key,
        ),
    )
    assert start_server_app(env).returncode == 0
    with built(settings) as app:
        assert KeyRing(key_file).active_kek_id == new_kek
        for username, secret in people.items():
            assert api_login(app, username, PASSWORD, secret) == 200
        read = app.test_client().get(
            f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert read.status_code == 200, read.get_json()
        assert read.get_json()["survivor"]["given_names"] == "María José"
