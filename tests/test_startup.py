"""Start-up refuses to serve without the right keys (CONTRACT.md §1).

A server that started with a missing or foreign key file would either fail on every
request or, worse, write new records under keys that do not belong with the old ones.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.crypto.keyring import KeyMaterial, KeyRing, read_key_file, write_key_file
from app.crypto.models import CryptoCanary
from app.crypto.service import StartupError
from app.extensions import db
from config import Settings


@contextmanager
def started(settings: Settings, *, for_cli: bool = False) -> Iterator[Flask]:
    app = create_app(settings, for_cli=for_cli)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def start_once(settings: Settings) -> None:
    """A first start writes the canary that binds the database to this key file."""
    with started(settings) as app:
        assert "ruta.keyring" in app.extensions
        with app.app_context():
            assert db.session.get(CryptoCanary, 1) is not None


def test_app_starts_with_the_key_file_that_made_the_data(settings):
    start_once(settings)
    with started(settings) as app:
        ring = app.extensions["ruta.keyring"]
        assert ring.active_kek_id == read_key_file(settings.key_file).active_kek_id


def test_app_refuses_to_start_without_a_key_file(settings):
    settings.key_file.unlink()
    with pytest.raises(StartupError, match="key file"):
        create_app(settings)


def test_app_refuses_to_start_when_the_key_file_is_gone_after_data_exists(settings):
    start_once(settings)  # data exists
    settings.key_file.unlink()
    with pytest.raises(StartupError):
        create_app(settings)


def test_app_refuses_a_freshly_generated_key_file_after_data_exists(settings):
    start_once(settings)
    write_key_file(settings.key_file, KeyMaterial.generate())
    with pytest.raises(StartupError):
        create_app(settings)


@pytest.mark.parametrize("changed", ["keks", "index_key", "audit_key"])
def test_app_refuses_a_key_file_with_one_foreign_key(settings, changed):
    # Same KEKs but another index key would make every search miss silently;
    # another audit key would make the whole audit chain look forged.
    start_once(settings)
    mine, other = read_key_file(settings.key_file), KeyMaterial.generate()
    if changed == "keks":
        forged = dataclasses.replace(mine, keks=other.keks, active_kek_id=other.active_kek_id)
    else:
        forged = dataclasses.replace(mine, **{changed: getattr(other, changed)})
    write_key_file(settings.key_file, forged)
    with pytest.raises(StartupError):
        create_app(settings)


def test_app_starts_after_rotation_while_the_old_kek_is_kept(settings):
    start_once(settings)
    new_id = KeyRing(settings.key_file).rotate()
    with started(settings) as app:
        assert app.extensions["ruta.keyring"].active_kek_id == new_id


def test_app_refuses_a_rotated_key_file_that_dropped_the_kek_still_in_use(settings):
    start_once(settings)
    old = read_key_file(settings.key_file)
    rotated = old.with_new_active_kek()
    keks = {rotated.active_kek_id: rotated.keks[rotated.active_kek_id]}
    write_key_file(settings.key_file, dataclasses.replace(rotated, keks=keks))
    with pytest.raises(StartupError):
        create_app(settings)


def test_app_refuses_a_malformed_key_file(settings):
    settings.key_file.write_text('{"format": 1, "keks": {}}')
    with pytest.raises(StartupError):
        create_app(settings)


@pytest.mark.parametrize("secret", [None, ""])
def test_app_refuses_to_start_without_a_secret_key(settings, secret):
    settings.secret_key = secret
    with pytest.raises(StartupError, match="secret"):
        create_app(settings)


def test_secret_key_comes_from_the_file_keys_init_writes(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-the-file\n")
    env = {"RUTA_SECRET_FILE": str(secret_file), "DATABASE_URL": "sqlite:///:memory:"}
    assert Settings.from_env(env).secret_key == "from-the-file"
    assert Settings.from_env({**env, "RUTA_SECRET_KEY": "from-env"}).secret_key == "from-env"
    secret_file.unlink()
    assert Settings.from_env(env).secret_key is None


def test_cli_app_starts_without_key_file_or_secret(settings):
    settings.key_file.unlink()
    settings.secret_key = None
    with started(settings, for_cli=True) as app:
        assert "ruta.keyring" not in app.extensions
        with app.app_context():
            assert db.session.get(CryptoCanary, 1) is None  # nothing bound to no keys


def test_cli_app_still_refuses_a_foreign_key_file(settings):
    # `flask users create` under the wrong keys would write records no one can read.
    start_once(settings)
    write_key_file(settings.key_file, KeyMaterial.generate())
    with pytest.raises(StartupError):
        create_app(settings, for_cli=True)


def test_cli_app_refuses_a_malformed_key_file(settings):
    settings.key_file.write_text("not a key file")
    with pytest.raises(StartupError):
        create_app(settings, for_cli=True)


# ---- what an operator sees: one line, Spanish and English, no traceback ----------------------

REPO = Path(__file__).resolve().parent.parent
ENTRY_POINTS = {
    "gunicorn": ["-m", "gunicorn", "--workers", "2", "--no-control-socket", "wsgi:app"],
    "python wsgi.py": ["wsgi.py"],
    "flask": ["-m", "flask", "--app", "wsgi", "audit", "verify"],
}


def run_entry_point(kind: str, settings: Settings, tmp_path: Path, **env: str):
    command = [sys.executable, *ENTRY_POINTS[kind]]
    if kind == "gunicorn":
        command += ["--bind", f"unix:{tmp_path / 'gunicorn.sock'}"]
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUTA_", "FLASK_")) and "DATABASE_URL" not in key
    }
    base.update(
        DATABASE_URL=settings.database_url,
        RUTA_KEY_FILE=str(settings.key_file),
        RUTA_SECRET_KEY=settings.secret_key or "",
        RUTA_SECRET_FILE=str(tmp_path / "secret_key"),
        RUTA_ATTACHMENTS_DIR=str(settings.attachments_dir),
        RUTA_AUDIT_ANCHOR_DIR=str(tmp_path / "audit-anchors"),
        TMPDIR=str(tmp_path),  # where gunicorn's workers agree which one reports
    )
    base.pop("REDIS_URL", None)
    return subprocess.run(
        command, cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def the_one_line(refused: subprocess.CompletedProcess) -> str:
    assert refused.returncode == 4, (refused.returncode, refused.stderr)
    assert "Traceback" not in refused.stderr + refused.stdout
    # One line per process: each gunicorn worker that booted says it once.
    ours = {line for line in refused.stderr.splitlines() if "Ruta" in line}
    assert len(ours) == 1, refused.stderr
    (line,) = ours
    assert line.startswith("Ruta no puede arrancar: ")
    assert " / Ruta cannot start: " in line
    return line


@pytest.mark.parametrize("kind", ["gunicorn", "python wsgi.py"])
def test_server_without_a_key_file_says_so_in_one_line(settings, tmp_path, kind):
    settings.key_file.unlink()
    line = the_one_line(run_entry_point(kind, settings, tmp_path))
    assert "keys init" in line and "[StartupError]" in line


def test_command_line_without_a_key_file_says_so_in_one_line(settings, tmp_path):
    settings.key_file.unlink()
    refused = run_entry_point("flask", settings, tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"Error: key file {settings.key_file} is missing; run `flask --app wsgi keys init`"
    ]


@pytest.mark.parametrize("kind", ["flask", "python wsgi.py"])
def test_a_foreign_key_file_is_refused_in_one_line_without_a_key(settings, tmp_path, kind):
    start_once(settings)
    foreign = KeyMaterial.generate()
    write_key_file(settings.key_file, foreign)
    refused = run_entry_point(kind, settings, tmp_path)
    line = the_one_line(refused)
    assert "does not open" in line or "not the one" in line
    assert foreign.audit_key.hex() not in refused.stderr


@pytest.mark.parametrize("kind", ["flask", "gunicorn"])
def test_an_invalid_setting_is_named_in_one_line(settings, tmp_path, kind):
    line = the_one_line(run_entry_point(kind, settings, tmp_path, RUTA_IDLE_MINUTES="media hora"))
    assert "variable de entorno" in line
    assert "RUTA_IDLE_MINUTES" in line and "[ConfigError]" in line


def test_an_unreachable_database_is_named_without_its_password(settings, tmp_path):
    url = "postgresql+psycopg://ruta:contrasena-secreta@127.0.0.1:1/ruta"
    line = the_one_line(run_entry_point("python wsgi.py", settings, tmp_path, DATABASE_URL=url))
    assert "base de datos" in line and "127.0.0.1:1/ruta" in line
    assert "contrasena-secreta" not in line
