"""Secrets from systemd credentials (ASVS 13.3.1, docs/deployment-secrets.md).

systemd decrypts the credentials of `LoadCredentialEncrypted=` at the service's start
and hands them over as files in `$CREDENTIALS_DIRECTORY`. Here a temporary directory
plays that part: Ruta must take the key file, the Flask secret and the URLs from it, and
ignore what the environment and `instance/` say, and it must never write there.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.crypto.keyring import KeyMaterial, read_key_file, write_key_file
from app.crypto.models import CryptoCanary, DataKey
from app.extensions import db
from config import Settings
from tests import factories
from tests.auth_helpers import otp, web_login
from tests.conftest import PASSWORD
from tests.test_startup import run_entry_point, the_one_line

UNREACHABLE_DATABASE = "postgresql+psycopg://nadie@127.0.0.1:1/ninguna"


@pytest.fixture
def credentials(tmp_path: Path, settings: Settings) -> Path:
    """What systemd would release: this database's key file, a secret, the URL."""
    directory = tmp_path / "credentials"
    directory.mkdir(mode=0o700)
    (directory / "ruta-kek").write_bytes(settings.key_file.read_bytes())
    (directory / "ruta-secret-key").write_text(secrets.token_hex(32) + "\n")
    (directory / "ruta-database-url").write_text(settings.database_url + "\n")
    for credential in directory.iterdir():
        credential.chmod(0o400)
    return directory


def decoy_environment(tmp_path: Path, credentials: Path | None) -> dict[str, str]:
    """An environment and an instance/ whose every secret is wrong for this database."""
    instance = tmp_path / "instance"
    write_key_file(instance / "keys" / "kek", KeyMaterial.generate())
    (instance / "secret_key").write_text("el secreto de instance\n")
    env = {
        "DATABASE_URL": UNREACHABLE_DATABASE,
        "RUTA_KEY_FILE": str(instance / "keys" / "kek"),
        "RUTA_SECRET_FILE": str(instance / "secret_key"),
        "RUTA_SECRET_KEY": "el secreto del entorno",
        "RUTA_ATTACHMENTS_DIR": str(tmp_path / "attachments"),
        "RUTA_REQUIRE_MFA": "0",
        "RUTA_SECURE_COOKIES": "0",
    }
    if credentials is not None:
        env["CREDENTIALS_DIRECTORY"] = str(credentials)
    return env


@pytest.fixture
def credential_app(tmp_path: Path, credentials: Path) -> Iterator[Flask]:
    app = create_app(Settings.from_env(decoy_environment(tmp_path, credentials)))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_under_credentials_the_app_opens_the_existing_data_with_their_kek(
    app, pnc, credentials, credential_app
):
    opened = app.test_client().post("/api/v1/cases", json=factories.intake(), headers=pnc.headers)
    assert opened.status_code == 201, opened.get_json()
    ring = credential_app.extensions["ruta.keyring"]
    assert ring.path == credentials / "ruta-kek"

    read = credential_app.test_client().get(
        f"/api/v1/cases/{opened.get_json()['id']}", headers=pnc.headers
    )

    assert read.status_code == 200, read.get_json()
    narratives = [incident["narrative"] for incident in read.get_json()["incidents"]]
    assert narratives == [factories.incident()["narrative"]]


def test_under_credentials_the_session_is_signed_with_their_secret(
    settings, pnc, credentials, credential_app
):
    secret = (credentials / "ruta-secret-key").read_text().strip()
    assert credential_app.config["SECRET_KEY"] == secret
    browser = credential_app.test_client()
    signed_in = web_login(browser, pnc.username, PASSWORD, otp(pnc.totp_secret))
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    cookie = browser.get_cookie("ruta_session")
    assert cookie is not None and browser.get("/").status_code == 200

    # The same cookie opens an app keyed with that secret, and none keyed otherwise.
    for key, honoured in ((secret, True), ("el secreto del entorno", False)):
        other = create_app(dataclasses.replace(settings, secret_key=key))
        try:
            visitor = other.test_client()
            visitor.set_cookie("ruta_session", cookie.value)
            assert (visitor.get("/").status_code == 200) is honoured
        finally:
            with other.app_context():
                db.session.remove()
                db.engine.dispose()


def test_credentials_take_the_place_of_the_environment_and_instance_files(tmp_path):
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "ruta-kek").write_text("{}")
    (directory / "ruta-secret-key").write_text("secreto de systemd\n")
    redis_url = "rediss://cache.example.sv:6380/0?ssl_ca_certs=/etc/ruta/tls/redis-ca.pem"
    (directory / "ruta-redis-url").write_text(redis_url + "\n")
    env = {**decoy_environment(tmp_path, directory), "REDIS_URL": "redis://elsewhere:6379/0"}

    settings = Settings.from_env(env)

    assert settings.credentials_dir == directory
    assert settings.key_file == directory / "ruta-kek"
    assert settings.secret_key == "secreto de systemd"
    assert settings.redis_url == redis_url
    assert settings.database_url == UNREACHABLE_DATABASE  # no ruta-database-url: the env's
    # The anchors stay beside the instance's secret file: the credentials are read-only.
    assert settings.to_flask()["RUTA_AUDIT_ANCHOR_DIR"] == tmp_path / "instance" / "audit-anchors"
    without = Settings.from_env({**env, "CREDENTIALS_DIRECTORY": ""})
    assert without.credentials_dir is None
    assert (without.secret_key, without.redis_url) == ("el secreto del entorno", env["REDIS_URL"])
    assert without.key_file == tmp_path / "instance" / "keys" / "kek"


@pytest.mark.parametrize(
    ("missing", "kind"),
    [("ruta-kek", "python wsgi.py"), ("ruta-kek", "flask"), ("ruta-secret-key", "gunicorn")],
)
def test_a_missing_credential_is_one_clear_start_up_line(
    settings, tmp_path, credentials, missing, kind
):
    (credentials / missing).unlink()
    # The environment holds a good key file and a secret: neither may stand in.
    refused = run_entry_point(kind, settings, tmp_path, CREDENTIALS_DIRECTORY=str(credentials))
    line = the_one_line(refused)
    assert f"the credential {missing} is not in CREDENTIALS_DIRECTORY {credentials}" in line
    assert f"LoadCredentialEncrypted={missing}:" in line and "[StartupError]" in line


def test_a_credentials_directory_that_is_not_there_is_named(settings, tmp_path):
    missing = tmp_path / "no-such-directory"
    refused = run_entry_point(
        "python wsgi.py", settings, tmp_path, CREDENTIALS_DIRECTORY=str(missing)
    )
    line = the_one_line(refused)
    assert f"CREDENTIALS_DIRECTORY: {missing} is not a directory" in line


def key_state(app: Flask, credentials: Path) -> tuple[object, ...]:
    with app.app_context():
        wraps = db.session.execute(select(DataKey.id, DataKey.kek_id, DataKey.wrapped)).all()
        canary = db.session.get(CryptoCanary, 1)
        state = (sorted(wraps), canary and canary.kek_blob)
        db.session.remove()
    return (*state, sorted(path.name for path in credentials.iterdir()))


@pytest.mark.parametrize(
    "command",
    [["keys", "rotate"], ["records", "purge"]],
    ids=["keys-rotate", "records-purge"],
)
def test_commands_that_write_the_key_file_refuse_under_credentials_and_change_nothing(
    app, pnc, credentials, credential_app, command
):
    opened = app.test_client().post("/api/v1/cases", json=factories.intake(), headers=pnc.headers)
    assert opened.status_code == 201
    kek = credentials / "ruta-kek"
    before = (kek.read_bytes(), key_state(credential_app, credentials))

    result = credential_app.test_cli_runner().invoke(args=command)

    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert f"would write the key file, which here is the read-only systemd credential {kek}" in (
        message
    )
    assert "nothing was changed. Do it offline" in message
    assert (
        "systemd-creds decrypt" in message and "systemd-creds encrypt --tpm2-device=auto" in message
    )
    assert "docs/deployment-secrets.md" in message
    assert (kek.read_bytes(), key_state(credential_app, credentials)) == before


def test_keys_init_under_credentials_writes_nothing(credentials, credential_app):
    runner = credential_app.test_cli_runner()
    present = runner.invoke(args=["keys", "init"])
    active = read_key_file(credentials / "ruta-kek").active_kek_id
    assert present.exit_code == 0, present.output
    assert f"key file exists: {credentials / 'ruta-kek'} (active key {active})" in present.output

    (credentials / "ruta-secret-key").unlink()
    refused = runner.invoke(args=["keys", "init"])
    assert refused.exit_code == 1
    assert "`keys init` would write the key file" in refused.output
    assert sorted(path.name for path in credentials.iterdir()) == ["ruta-database-url", "ruta-kek"]
