"""Start-up refuses to serve without the right keys (CONTRACT.md §1).

A server that started with a missing or foreign key file would either fail on every
request or, worse, write new records under keys that do not belong with the old ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

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
