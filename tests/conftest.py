"""Fixtures: a fresh app and a migrated database per test, on SQLite or PostgreSQL.

The migrations run once per worker into a template, with the network's directory loaded
(as every app fixture has it) and no key file bound yet (each test's first start binds its
own): SQLite, a file that each test copies; PostgreSQL (TEST_DATABASE_URL), a schema of
this run whose rows are put back before each test. Never `create_all`.
"""

from __future__ import annotations

import os
import shutil
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text

from app import create_app
from app.auth import totp
from app.auth.models import User
from app.auth.service import create_user, issue_token
from app.cli.demo import load_directory
from app.crypto.keyring import KeyMaterial, write_key_file
from app.directory.models import Institution
from app.extensions import db
from config import Settings
from tests import pg_snapshot
from tests.fast_hashing import use_fast_hashing
from tests.fast_routing import use_shared_url_builders

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
USING_PG = PG_URL.startswith("postgresql")
PASSWORD = "correct horse battery"


use_fast_hashing()
use_shared_url_builders()


@pytest.fixture(autouse=True)
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The TOTP clock of app/auth/totp.py, stopped mid-step (`tests.auth_helpers`), which
    `otp(steps_ahead=…)` moves on: a test that signs in twice within a minute waits for
    the next code, without waiting 30 real seconds, and no code crosses a step."""
    stop_the_totp_clock(monkeypatch)
    yield


def stop_the_totp_clock(patch: pytest.MonkeyPatch) -> None:
    """`totp_clock`, for fixtures of a wider scope (with their own MonkeyPatch)."""
    from tests.auth_helpers import stop_totp_clock, totp_now

    stop_totp_clock()
    patch.setattr(totp, "time", types.SimpleNamespace(time=totp_now))


def make_settings(tmp: Path, database_url: str, **overrides: Any) -> Settings:
    key_file = tmp / "keys" / "kek"
    if not key_file.exists():
        write_key_file(key_file, KeyMaterial.generate())
    settings = Settings(
        database_url=database_url,
        key_file=key_file,
        attachments_dir=tmp / "attachments",
        secret_file=tmp / "secret_key",
        audit_anchor_dir=tmp / "audit-anchors",
        secret_key="test-secret-" + uuid.uuid4().hex,
        require_mfa=overrides.pop("require_mfa", False),
        redis_url=None,
        testing=True,
        secure_cookies=False,
    )
    settings.extra.update({"RATELIMIT_ENABLED": True, **overrides})
    return settings


def migrate_to_head(settings: Settings) -> None:
    from flask_migrate import upgrade

    app = create_app(settings, for_cli=True)
    with app.app_context():
        upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
        db.engine.dispose()


def _pg_url_with_schema(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    # No waiting for the disk at each commit: a test database need not survive a crash.
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite: a template file. PostgreSQL: a schema of this run (see the module's text)."""
    tmp = tmp_path_factory.mktemp("template")
    if not USING_PG:
        path = tmp / "template.db"
        fill_template(make_settings(tmp, f"sqlite:///{path}"))
        yield str(path)
        return
    schema = f"ruta_test_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _pg_url_with_schema(schema)
    fill_template(make_settings(tmp, url))
    yield url
    pg_snapshot.dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def fill_template(settings: Settings) -> None:
    migrate_to_head(settings)
    with app_with_directory(settings):
        pass
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM crypto_canary"))  # bound to the template's key file
    engine.dispose()  # SQLite: the last connection's close writes the WAL into the file


@pytest.fixture(scope="session")
def template_rows(database_template: str) -> pg_snapshot.Snapshot | None:
    """PostgreSQL: the template's rows, taken once, put back before each test."""
    return pg_snapshot.take(database_template) if USING_PG else None


@pytest.fixture
def database_url(
    database_template: str, template_rows: pg_snapshot.Snapshot | None, tmp_path: Path
) -> str:
    if template_rows is not None:
        pg_snapshot.put_back(database_template, template_rows)
        return database_template
    path = tmp_path / "ruta.db"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    with app_with_directory(settings) as app:
        yield app


@contextmanager
def app_with_directory(settings: Settings) -> Iterator[Flask]:
    """An app with the network's directory loaded; its connections closed at the end."""
    app = create_app(settings)
    with app.app_context():
        # The template has it (a copy of it, rather): loading it again only compares.
        if db.session.execute(select(Institution.id).limit(1)).first() is None:
            load_directory(db.session)
            db.session.commit()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Person:
    """A test user with a ready API token."""

    id: int
    username: str
    role: str
    institution: str
    token: str
    totp_secret: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_person(app: Flask):
    """Create a user at an institution and give them a token, the way login would."""
    return person_maker(app)


def person_maker(app: Flask, first: int = 1):
    """`make_person` for any app (a fixture of a wider scope builds one of its own, its
    names numbered from `first`: none is a name a test's own `make_person` gives)."""
    counter = iter(range(first, first + 10_000))

    def make(role: str, institution: str, username: str | None = None) -> Person:
        name = username or f"{role.replace('_', '')}{next(counter)}.{institution.lower()}"
        with app.app_context():
            ring = app.extensions["ruta.keyring"]
            new = create_user(
                db.session,
                ring,
                username=name,
                institution_code=institution,
                role=role,
                password=PASSWORD,
                with_totp=True,
            )
            token, _ = issue_token(db.session, new.user, app.config["RUTA_TOKEN_LIFETIME"])
            db.session.commit()
            return Person(new.user.id, name, role, institution, token, new.totp_secret)

    return make


# The people of the fixtures below: role, institution, username.
PEOPLE = {
    "pnc": ("pnc_agent", "PNC-SON", "agente.test"),
    "health": ("health_staff", "US-SON", "salud.test"),
    "womens": ("womens_office", "UMM-SON", "mujer.test"),
    "supervisor": ("supervisor", "RED-SON", "supervisora.test"),
    "admin": ("admin", "SYS", "admin.test"),
}


@pytest.fixture
def pnc(make_person) -> Person:
    return make_person(*PEOPLE["pnc"])


@pytest.fixture
def health(make_person) -> Person:
    return make_person(*PEOPLE["health"])


@pytest.fixture
def womens(make_person) -> Person:
    return make_person(*PEOPLE["womens"])


@pytest.fixture
def supervisor(make_person) -> Person:
    return make_person(*PEOPLE["supervisor"])


@pytest.fixture
def admin(make_person) -> Person:
    return make_person(*PEOPLE["admin"])


def user_row(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        db.session.expunge(user)
        return user
