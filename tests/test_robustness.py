"""Never a 500 for what the outside world does (issue 15): ids out of range, the database
or the attachment store gone. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from werkzeug.routing import IntegerConverter

from app import create_app
from app.cases.care_models import Attachment
from app.core.ids import MAX_ID, IdConverter, is_db_id
from app.directory.models import Institution
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.conftest import Person, make_settings
from tests.factories import intake
from tests.test_uploads_sanitised import png

API = "/api/v1"
OUT_OF_RANGE = (2**31, 2**63, 2**64 + 7, 0)
INT_ARGUMENT = re.compile(r"<int:(\w+)>")


# ---- ids: only what an integer column holds reaches a query --------------------------


def int_rules(app: Flask) -> list[tuple[str, str]]:
    """(rule, method) of every route with an integer id in its path."""
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if INT_ARGUMENT.search(rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


def test_every_integer_route_argument_is_bounded_to_the_id_range(app):
    assert len(int_rules(app)) >= 10  # the API's and the pages' reviews, approvals, admin
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                assert isinstance(converter, IdConverter), (rule.rule, name)
                assert (converter.min, converter.max) == (1, MAX_ID)


def test_is_db_id_bounds() -> None:
    assert is_db_id(1) and is_db_id(MAX_ID)
    for value in (0, -1, MAX_ID + 1, 2**63, True, "5", 5.0, None):
        assert not is_db_id(value), value


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.integers(0, 10**12),
        st.integers(MAX_ID - 1000, MAX_ID + 1000),
        st.sampled_from([2**31, 2**32, 2**63, 2**63 - 1, 2**64, 10**9, 10**10 - 1]),
    )
)
def test_the_route_pattern_matches_exactly_the_ids_a_column_holds(value: int) -> None:
    # In the pattern, so a number out of range matches no route at all (404, not 405).
    matches = re.fullmatch(IdConverter.regex, str(value)) is not None
    assert matches == (1 <= value <= MAX_ID) == is_db_id(value)
    assert re.fullmatch(IdConverter.regex, f"0{value}") is None  # no leading zeros


@pytest.fixture
def callers(app: Flask, make_person) -> dict[str, Person]:
    return {
        "supervisor": make_person("supervisor", "RED-SON"),
        "admin": make_person("admin", "SYS"),
        "pnc_agent": make_person("pnc_agent", "PNC-SON"),
    }


def web_client(app: Flask, person: Person) -> tuple[FlaskClient, str]:
    client = app.test_client()
    start_web_session(app, client, person.username)
    page = client.get("/")
    assert page.status_code == 200, page.status_code
    return client, csrf_token(page.get_data(as_text=True))


def call(client: FlaskClient, method: str, path: str, person: Person, token: str | None):
    if path.startswith(API):
        return client.open(path, method=method, headers=person.headers, json={})
    data = {"csrf_token": token} if method == "POST" else None
    return client.open(path, method=method, data=data)


def test_ids_out_of_range_are_404_on_every_route_for_every_caller(app, client, callers):
    pages = {name: web_client(app, person) for name, person in callers.items()}
    for rule, method in int_rules(app):
        for value in OUT_OF_RANGE:
            path = INT_ARGUMENT.sub(str(value), rule)
            for name, person in callers.items():
                page, token = pages[name]
                response = call(
                    client if rule.startswith(API) else page, method, path, person, token
                )
                assert response.status_code == 404, (rule, method, value, name)
                if rule.startswith(API):
                    assert response.get_json()["error"] == "not_found"


def test_the_largest_id_reaches_the_service_and_is_simply_not_there(app, client, callers):
    """2**31 - 1 matches the route: the service looks and finds nothing — never a 500."""
    pages = {name: web_client(app, person) for name, person in callers.items()}
    for rule, method in int_rules(app):
        path = INT_ARGUMENT.sub(str(MAX_ID), rule)
        for name, person in callers.items():
            page, token = pages[name]
            response = call(client if rule.startswith(API) else page, method, path, person, token)
            assert response.status_code < 500, (rule, method, name, response.status_code)


def open_case(client: FlaskClient, person: Person) -> str:
    response = client.post(f"{API}/cases", json=intake(), headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


@pytest.mark.parametrize("institution", [2**31, 2**63, -5, 0])
def test_an_institution_id_out_of_range_in_a_referral_body_is_422(app, client, pnc, institution):
    case_id = open_case(client, pnc)
    response = client.post(
        f"{API}/cases/{case_id}/referrals",
        json={"to_institution": institution, "service": "medical", "consent": True},
        headers=pnc.headers,
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["fields"] == {"to_institution": ["Institución desconocida."]}


def test_an_institution_id_out_of_range_in_a_consent_exclusion_is_422(app, client, pnc):
    case_id = open_case(client, pnc)
    response = client.post(
        f"{API}/cases/{case_id}/consent",
        json={"exclude_institutions": [2**63]},
        headers=pnc.headers,
    )
    assert response.status_code == 422, response.get_json()


# ---- 503: the database is down -----------------------------------------------------------


def assert_api_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    # 30 s from the handler; a rate-limited endpoint's limiter may give its own window.
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body == {
        "error": "unavailable",
        "message": "The service is unavailable for a moment; try again shortly.",
        "fields": {},
    }


def assert_page_unavailable(response: Any) -> None:
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Servicio no disponible" in text
    for leak in ("Traceback", "Error", "sqlalchemy", "psycopg", "sqlite", "SELECT"):
        assert leak not in text, leak


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def outage(app: Flask, tmp: Path) -> Iterator[None]:
    """Meanwhile the app's engine connects where no database is: PostgreSQL on a port
    nobody listens on (psycopg's own "connection refused"), SQLite to a file that cannot
    be opened. The drivers fail for real; only where they connect to is changed."""
    closed_port, missing = free_port(), str(tmp / "no-such-directory" / "ruta.db")

    def elsewhere(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if dialect.name == "postgresql":
            cparams.update(host="127.0.0.1", port=closed_port, connect_timeout=2)
        else:
            cargs[0] = missing

    with app.app_context():
        engine = db.engine
        engine.dispose()  # no pooled connection survives the outage
        event.listen(engine, "do_connect", elsewhere)
    try:
        yield
    finally:
        with app.app_context():
            event.remove(engine, "do_connect", elsewhere)
            engine.dispose()


def test_api_answers_503_with_retry_after_when_the_database_is_down(app, client, pnc, tmp_path):
    with outage(app, tmp_path):
        assert_api_unavailable(client.get(f"{API}/cases", headers=pnc.headers))
        assert_api_unavailable(client.post(f"{API}/cases", json=intake(), headers=pnc.headers))
        assert_api_unavailable(
            client.post(f"{API}/auth/token", json={"username": "x", "password": "y"})
        )
    assert client.get(f"{API}/cases", headers=pnc.headers).status_code == 200


def test_pages_answer_a_plain_spanish_503_when_the_database_is_down(app, pnc, tmp_path):
    browser = app.test_client()
    start_web_session(app, browser, pnc.username)
    with outage(app, tmp_path):
        assert_page_unavailable(browser.get("/"))
        assert_page_unavailable(browser.get("/referrals"))
    assert browser.get("/").status_code == 200  # back once the database is


def test_a_commit_that_fails_after_the_view_is_503_too(app, client, pnc, monkeypatch):
    def lost_connection() -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", lost_connection)
    # As in production: tests re-raise what escapes an after_request hook, servers do not.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert_api_unavailable(client.get(f"{API}/institutions", headers=pnc.headers))


def test_the_public_status_lookup_and_the_login_form_are_503_too(app, tmp_path):
    client = app.test_client()
    form = client.get("/login")
    assert form.status_code == 200
    with outage(app, tmp_path):
        assert_api_unavailable(client.post(f"{API}/status", json={"code": "A", "pin": "1"}))
        assert_page_unavailable(
            client.post(
                "/login",
                data={
                    "username": "a",
                    "password": "b",
                    "csrf_token": csrf_token(form.get_data(as_text=True)),
                },
            )
        )


def test_a_pool_with_no_free_connection_is_503(tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("one pool setting for the file database is enough")
    settings = make_settings(
        tmp_path,
        database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2},
    )
    app = create_app(settings)
    with app.app_context():
        held = db.engine.connect()  # the one connection, busy elsewhere
        client = app.test_client()
        try:
            assert_api_unavailable(
                client.get(f"{API}/institutions", headers={"Authorization": "Bearer x"})
            )
        finally:
            held.close()
            db.engine.dispose()


# ---- 503: the attachment store is unavailable --------------------------------------------


def upload(client: FlaskClient, person: Person, case_id: str) -> Any:
    return client.post(
        f"{API}/cases/{case_id}/attachments",
        headers=person.headers,
        data={"file": (io.BytesIO(png()), "foto.png")},
    )


def attachment_rows(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Attachment)).scalar_one()


def test_an_attachment_store_that_cannot_be_created_is_503(app, client, pnc, tmp_path):
    case_id = open_case(client, pnc)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store should be")
    app.config["RUTA_ATTACHMENTS_DIR"] = blocker / "attachments"
    assert_api_unavailable(upload(client, pnc, case_id))
    assert attachment_rows(app) == 0


def test_a_full_disk_is_503_and_leaves_no_file_and_no_row(app, client, pnc, monkeypatch):
    case_id = open_case(client, pnc)

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    assert_api_unavailable(upload(client, pnc, case_id))
    monkeypatch.undo()
    assert attachment_rows(app) == 0
    store = Path(app.config["RUTA_ATTACHMENTS_DIR"])
    assert not store.exists() or list(store.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_store_is_503(app, client, pnc):
    case_id = open_case(client, pnc)
    store = Path(app.config["RUTA_ATTACHMENTS_DIR"])
    store.mkdir(mode=0o500, parents=True, exist_ok=True)
    store.chmod(0o500)
    try:
        assert_api_unavailable(upload(client, pnc, case_id))
    finally:
        store.chmod(0o700)


def test_a_stored_file_that_cannot_be_read_is_503_on_both_faces(app, client, pnc):
    case_id = open_case(client, pnc)
    saved = upload(client, pnc, case_id)
    assert saved.status_code == 201, saved.get_json()
    attachment_id = saved.get_json()["id"]
    (stored,) = Path(app.config["RUTA_ATTACHMENTS_DIR"]).iterdir()
    stored.unlink()
    stored.mkdir()  # where the file was, something that cannot be read as one
    assert_api_unavailable(
        client.get(f"{API}/cases/{case_id}/attachments/{attachment_id}", headers=pnc.headers)
    )
    page = app.test_client()
    start_web_session(app, page, pnc.username)
    assert_page_unavailable(page.get(f"/cases/{case_id}/attachments/{attachment_id}"))


def test_the_web_upload_form_answers_503_when_the_store_is_down(app, client, pnc, tmp_path):
    case_id = open_case(client, pnc)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    app.config["RUTA_ATTACHMENTS_DIR"] = blocker / "attachments"
    page = app.test_client()
    start_web_session(app, page, pnc.username)
    form = page.get(f"/cases/{case_id}")
    response = page.post(
        f"/cases/{case_id}/attachments",
        data={
            "file": (io.BytesIO(png()), "foto.png"),
            "csrf_token": csrf_token(form.get_data(as_text=True)),
        },
    )
    assert_page_unavailable(response)
    assert attachment_rows(app) == 0


def test_institutions_still_answer_normally(app, client, pnc):
    # The handlers above change nothing for a healthy request.
    response = client.get(f"{API}/institutions", headers=pnc.headers)
    assert response.status_code == 200
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(Institution)).scalar_one()
    assert len(response.get_json()["items"]) == count
