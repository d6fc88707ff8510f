"""A test world that takes a second or more to build (a shared case, its referrals, a
dozen users), built once per module and worker and put back before each test: SQLite
copies its file, PostgreSQL puts back its rows (tests/pg_snapshot.py). The keys, the
attachments and the audit anchors are copied with it, so that each test opens the same
data with the same key file.

A module takes its fixtures from `world_fixtures`:

    people = ("pnc", "health")
    kept_network, settings, pnc, health, network = world_fixtures("network", build, people)

A test that asks for `network` starts from the kept world and gets a copy of what `build`
returned; the module's other tests start from the empty template, as everywhere else.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from tests import pg_snapshot
from tests.conftest import (
    PEOPLE,
    app_with_directory,
    make_settings,
    person_maker,
    stop_the_totp_clock,
)

Build = Callable[[Flask, FlaskClient, Callable[..., Any]], Any]


@dataclass(frozen=True)
class Kept:
    folder: Path  # the keys, attachments and anchors (SQLite: the database file too)
    built: Any  # what the build returned
    rows: pg_snapshot.Snapshot | None  # PostgreSQL: the schema's rows


def keep_world(
    database_template: str,
    template_rows: pg_snapshot.Snapshot | None,
    factory: pytest.TempPathFactory,
    build: Build,
) -> Kept:
    """Builds the world from the template, as a test's own app would, and keeps it."""
    folder = factory.mktemp("world")
    if template_rows is not None:
        url = database_template
        pg_snapshot.put_back(url, template_rows)
    else:
        shutil.copyfile(database_template, folder / "ruta.db")
        url = f"sqlite:///{folder / 'ruta.db'}"
    with (
        pytest.MonkeyPatch.context() as patch,
        app_with_directory(make_settings(folder, url)) as app,
    ):
        stop_the_totp_clock(patch)
        built = build(app, app.test_client(), person_maker(app, first=100_001))
    return Kept(folder, built, pg_snapshot.take(url) if template_rows is not None else None)


def settings_for(kept: Kept, tmp_path: Path, database_template: str) -> Settings:
    """A test's settings on a fresh copy of the kept world."""
    folder = tmp_path / "world"
    shutil.copytree(kept.folder, folder)
    if kept.rows is not None:
        pg_snapshot.put_back(database_template, kept.rows)
        return make_settings(folder, database_template)
    return make_settings(folder, f"sqlite:///{folder / 'ruta.db'}")


def world_fixtures(name: str, build: Callable[..., Any], people: tuple[str, ...] = ()) -> Any:
    """Fixtures for a module where a test that asks for `name` starts from the kept world
    and gets a copy of what `build` returned; the conftest's `people` (tests.conftest.PEOPLE)
    are the world's own in those tests and made afresh in the others.
    `build(app, client, make_person, people)`, with `people` by fixture name.

        kept, settings, pnc, health, network = world_fixtures("network", build, ("pnc", "health"))
    """

    def in_world(request: pytest.FixtureRequest) -> bool:
        return name in request.fixturenames

    def make_world(app: Flask, client: FlaskClient, make_person: Callable[..., Any]) -> Any:
        made = {key: make_person(*PEOPLE[key]) for key in people}
        return {**made, name: build(app, client, make_person, made)}

    @pytest.fixture(scope="module", name=f"kept_{name}")
    def kept(database_template: str, template_rows: Any, tmp_path_factory: Any) -> Kept:
        return keep_world(database_template, template_rows, tmp_path_factory, make_world)

    @pytest.fixture(name="settings")
    def settings(
        request: pytest.FixtureRequest, tmp_path: Path, database_template: str
    ) -> Settings:
        if not in_world(request):  # asked only here: PostgreSQL puts one set of rows back
            return make_settings(tmp_path, request.getfixturevalue("database_url"))
        return settings_for(request.getfixturevalue(f"kept_{name}"), tmp_path, database_template)

    def person_fixture(key: str) -> Any:
        @pytest.fixture(name=key)
        def person(request: pytest.FixtureRequest, app: Flask) -> Any:
            if in_world(request):
                return request.getfixturevalue(f"kept_{name}").built[key]
            return request.getfixturevalue("make_person")(*PEOPLE[key])

        return person

    @pytest.fixture(name=name)
    def world(app: Flask, request: pytest.FixtureRequest) -> Any:
        return copy.deepcopy(request.getfixturevalue(f"kept_{name}").built[name])

    return (kept, settings, *(person_fixture(key) for key in people), world)
