"""No identifiers in URLs (CONTRACT.md §3, §5): searches are POSTs, `GET /api/v1/cases`
refuses a DUI, name or birth date and is the work list instead, and no log line, the
server's access log included, ever repeats one of them."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app import create_app
from app.audit.models import AuditEvent
from app.auth.service import create_user
from app.cases import search
from app.cases.models import Case
from app.cli.demo import load_directory
from app.core.time import utcnow
from app.extensions import db
from config import Settings
from tests.auth_helpers import csrf_token, post_form, start_web_session
from tests.conftest import PASSWORD, Person, migrate_to_head
from tests.factories import OTHER_DUI, VALID_DUI, intake

REPO = Path(__file__).resolve().parent.parent
NAME, BIRTH_DATE = "María José López Hernández", "1994-03-15"
# Every way the identity could show up in a log: as typed, unaccented, URL-encoded.
NEEDLES = (
    VALID_DUI,
    VALID_DUI.replace("-", ""),
    BIRTH_DATE,
    "María",
    "Maria",
    "Mar%C3%ADa",
    "José",
    "Jos%C3%A9",
    "López",
    "Lopez",
    "L%C3%B3pez",
    "Hernández",
    "Hern%C3%A1ndez",
)
SUMMARY_KEYS = {"id", "number", "status", "created_at"}
WORK_ITEM_KEYS = {
    "id",
    "number",
    "status",
    "risk_level",
    "assigned_to",
    "updated_at",
    "access",
    "name",
    "next_contact",
}


# ---- helpers ---------------------------------------------------------------------------


def open_case(client: FlaskClient, person: Person, **survivor: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/cases", json=intake(survivor_overrides=survivor), headers=person.headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_search(client: FlaskClient, person: Person, body: Any) -> Any:
    return client.post("/api/v1/cases/search", json=body, headers=person.headers)


def found(client: FlaskClient, person: Person, **body: str) -> list[str]:
    response = post_search(client, person, body)
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert all(set(item) == SUMMARY_KEYS for item in items)
    return [item["id"] for item in items]


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def work_list(client: FlaskClient, person: Person, **params: Any) -> Any:
    return client.get("/api/v1/cases", query_string=params, headers=person.headers)


def set_case(app: Flask, case_id: str, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == uuid.UUID(case_id)).values(**values))
        db.session.commit()


@pytest.fixture
def outsider(make_person) -> Person:
    """A PNC agent of Acajutla: a case role, never a party to the cases below."""
    return make_person("pnc_agent", "PNC-ACA", "agente.acajutla")


# ---- POST /api/v1/cases/search -------------------------------------------------------------


def test_search_by_dui_finds_the_case_in_any_spelling_of_the_dui(client, pnc):
    case_id = open_case(client, pnc)["id"]
    assert found(client, pnc, dui=VALID_DUI) == [case_id]
    assert found(client, pnc, dui=" 123456784 ") == [case_id]
    assert found(client, pnc, dui=OTHER_DUI) == []


def test_search_by_name_and_birth_date_is_exact_after_normalising(client, pnc):
    case_id = open_case(client, pnc)["id"]
    assert found(client, pnc, name=NAME, birth_date=BIRTH_DATE) == [case_id]
    assert found(client, pnc, name="MARIA  JOSE lopez hernandez", birth_date=BIRTH_DATE) == [
        case_id
    ]
    assert found(client, pnc, name="María López Hernández", birth_date=BIRTH_DATE) == []
    assert found(client, pnc, name=NAME, birth_date="1994-03-16") == []


def test_search_by_case_number_is_exact_after_trimming_and_upper_casing(client, pnc):
    created = open_case(client, pnc)
    number = created["number"]
    assert found(client, pnc, number=number) == [created["id"]]
    assert found(client, pnc, number=f"  {number.lower()} ") == [created["id"]]
    assert found(client, pnc, number=number[:-1] + "9") == []
    assert found(client, pnc, number=number.rsplit("-", 1)[0] + "-999999") == []


def test_another_institutions_case_is_not_found_by_any_key(client, pnc, outsider):
    created = open_case(client, pnc)
    assert found(client, outsider, dui=VALID_DUI) == []
    assert found(client, outsider, name=NAME, birth_date=BIRTH_DATE) == []
    assert found(client, outsider, number=created["number"]) == []
    # The answer for her case is the answer for no case at all.
    assert (
        post_search(client, outsider, {"dui": VALID_DUI}).get_json()
        == post_search(client, outsider, {"dui": OTHER_DUI}).get_json()
    )


def test_a_search_is_audited_without_any_identifier(app, client, pnc):
    created = open_case(client, pnc)
    found(client, pnc, dui=VALID_DUI)
    found(client, pnc, name=NAME, birth_date=BIRTH_DATE)
    found(client, pnc, number=created["number"])
    found(client, pnc, dui=OTHER_DUI)
    rows = events(app, "case_search")
    assert [row.detail for row in rows] == ["results=1", "results=1", "results=1", "results=0"]
    assert {row.username for row in rows} == {pnc.username}
    stored = " ".join(
        str(value)
        for row in rows
        for value in (row.object_id, row.case_id, row.reason, row.detail, row.object_type)
    )
    for needle in (*NEEDLES, created["number"]):
        assert needle not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"other": "x"}, "_schema"),
        ({"dui": "12345678-5"}, "dui"),
        ({"dui": ""}, "dui"),
        ({"dui": None}, "dui"),
        ({"name": NAME}, "birth_date"),
        ({"birth_date": BIRTH_DATE}, "name"),
        ({"name": NAME, "birth_date": "1994-13-01"}, "birth_date"),
        ({"name": NAME, "birth_date": "2999-01-01"}, "birth_date"),
        ({"name": "   ", "birth_date": BIRTH_DATE}, "name"),
        ({"number": "SON-2026"}, "number"),
        ({"number": 7}, "number"),
        ({"dui": VALID_DUI, "number": "SON-2026-000001"}, "_schema"),
        ({"dui": VALID_DUI, "name": NAME, "birth_date": BIRTH_DATE}, "_schema"),
    ],
)
def test_bad_search_bodies_are_422_with_a_spanish_field_error(app, client, pnc, body, field):
    response = post_search(client, pnc, body)
    assert response.status_code == 422, response.get_json()
    answer = response.get_json()
    assert answer["error"] == "invalid"
    assert set(answer["fields"]) == {field}
    message = " ".join(answer["fields"][field])
    assert not any(word in message for word in ("Missing", "Not a valid", "Invalid"))
    assert events(app, "case_search") == []


def test_malformed_dui_and_date_are_explained_in_spanish(client, pnc):
    dui = post_search(client, pnc, {"dui": "1234"}).get_json()["fields"]["dui"]
    date = post_search(client, pnc, {"name": NAME, "birth_date": "15/03/1994"}).get_json()
    assert dui == ["DUI no válido (########-#, revise el dígito verificador)."]
    assert date["fields"]["birth_date"] == ["Fecha no válida; use AAAA-MM-DD."]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"dui"'])
def test_a_search_body_that_is_not_a_json_object_is_400(client, pnc, body):
    response = client.post(
        "/api/v1/cases/search",
        data=body,
        headers={**pnc.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_roles_without_case_work_may_not_search(app, client, pnc, who, request):
    open_case(client, pnc)
    person: Person = request.getfixturevalue(who)
    response = post_search(client, person, {"dui": VALID_DUI})
    assert response.status_code == 403
    assert events(app, "case_search") == []


def test_search_needs_a_token(client):
    assert client.post("/api/v1/cases/search", json={"dui": VALID_DUI}).status_code == 401


# ---- identifiers in a URL are refused ---------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"dui": VALID_DUI},
        {"name": NAME, "birth_date": BIRTH_DATE},
        {"birth_date": BIRTH_DATE},
        {"given_names": "María José"},
        {"family_names": "López Hernández"},
        {"phone": "7777-1234"},
        {"DUI": VALID_DUI},
        {"status": "open", "dui": VALID_DUI},
    ],
)
def test_identifiers_in_the_url_of_get_cases_are_refused_and_never_logged(
    app, client, pnc, caplog, params
):
    open_case(client, pnc)
    with caplog.at_level(logging.DEBUG):
        response = work_list(client, pnc, **params)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "identifier_in_url"
    assert "POST /api/v1/cases/search" in body["message"]
    assert body["fields"] == {}
    answer = response.get_data(as_text=True)
    for value in params.values():
        if value != "open":
            assert value not in answer
            assert value not in caplog.text
    assert events(app, "case_search") == []


def test_identifiers_in_the_url_of_the_post_search_are_refused_too(client, pnc):
    response = client.post(
        "/api/v1/cases/search",
        query_string={"dui": VALID_DUI},
        json={"dui": VALID_DUI},
        headers=pnc.headers,
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "identifier_in_url"


def test_without_a_token_get_cases_is_401_before_anything_else(client):
    assert client.get("/api/v1/cases", query_string={"dui": VALID_DUI}).status_code == 401


# ---- GET /api/v1/cases: the work list ----------------------------------------------------------

SURVIVORS = ("Ana", "Berta", "Carla", "Diana", "Elena")


def open_cases(client: FlaskClient, person: Person, count: int) -> list[str]:
    return [
        open_case(client, person, dui=..., given_names=name)["id"] for name in SURVIVORS[:count]
    ]


def test_the_work_list_shows_the_institutions_cases_newest_activity_first(app, client, pnc, health):
    ids = open_cases(client, pnc, 3)
    theirs = open_case(client, health, dui=..., given_names="Zoila")["id"]
    now = utcnow()
    for age, case_id in zip((2, 0, 1), ids, strict=True):  # the second was touched last
        set_case(app, case_id, updated_at=now - timedelta(hours=age))
    response = work_list(client, pnc)
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == [ids[1], ids[2], ids[0]]
    assert theirs not in {item["id"] for item in body["items"]}
    assert body["next_page"] is None
    first = body["items"][0]
    assert set(first) == WORK_ITEM_KEYS
    assert first["assigned_to"] == {"id": pnc.id, "name": pnc.username, "active": True}
    assert first["status"] == "open"


def test_the_work_list_pages_by_fifty_with_a_next_page(app, client, pnc, monkeypatch):
    assert search.PAGE_SIZE == 50
    monkeypatch.setattr(search, "PAGE_SIZE", 2)
    ids = open_cases(client, pnc, 5)
    pages = [work_list(client, pnc, page=page).get_json() for page in (1, 2, 3, 4)]
    assert [page["next_page"] for page in pages] == [2, 3, None, None]
    assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
    listed = [item["id"] for page in pages for item in page["items"]]
    assert sorted(listed) == sorted(ids)  # every case once, none repeated across pages
    assert work_list(client, pnc).get_json() == pages[0]


def test_the_work_list_filters_by_status_and_risk(app, client, pnc):
    closed, high, plain = open_cases(client, pnc, 3)
    set_case(app, closed, status="closed")
    set_case(app, high, risk_level="high", status="follow_up")

    def ids(**params: str) -> list[str]:
        response = work_list(client, pnc, **params)
        assert response.status_code == 200, response.get_json()
        return sorted(item["id"] for item in response.get_json()["items"])

    assert ids(status="closed") == [closed]
    assert ids(status="open") == [plain]
    assert ids(risk="high") == [high]
    assert ids(risk="high", status="follow_up") == [high]
    assert ids(risk="high", status="open") == []
    assert ids(risk="medium") == []
    assert work_list(client, pnc, risk="high").get_json()["items"][0]["risk_level"] == "high"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "archived"}, "status"),
        ({"risk": "extreme"}, "risk"),
        ({"page": "0"}, "page"),
        ({"page": "dos"}, "page"),
        ({"page": "-3"}, "page"),
    ],
)
def test_bad_work_list_parameters_are_422(client, pnc, params, field):
    response = work_list(client, pnc, **params)
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {field}


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_roles_without_case_work_have_no_work_list(client, who, request):
    person: Person = request.getfixturevalue(who)
    assert work_list(client, person).status_code == 403


# ---- the search page -----------------------------------------------------------------------


def search_page(app: Flask, client: FlaskClient, person: Person, **form: str) -> Any:
    start_web_session(app, client, person.username)
    return post_form(client, "/cases/search", form)


def test_the_search_page_is_a_post_form_with_a_label_for_every_field(app, client, pnc):
    start_web_session(app, client, pnc.username)
    page = client.get("/cases/search")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<form method="post"' in html and 'method="get"' not in html
    assert csrf_token(html)
    for name in ("dui", "name", "birth_date", "number"):
        assert f'<label for="{name}">' in html, name
    assert "Resultados" not in html


def test_a_search_url_from_an_old_bookmark_shows_the_empty_form(app, client, pnc):
    open_case(client, pnc)
    start_web_session(app, client, pnc.username)
    page = client.get("/cases/search", query_string={"dui": VALID_DUI})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert VALID_DUI not in html
    assert "Resultados" not in html
    assert events(app, "case_search") == []


@pytest.mark.parametrize("kind", ["dui", "name", "number"])
def test_the_search_page_posts_and_shows_the_results_on_the_page(app, client, pnc, kind):
    created = open_case(client, pnc)
    form = {
        "dui": {"dui": VALID_DUI},
        "name": {"name": NAME, "birth_date": BIRTH_DATE},
        "number": {"number": created["number"].lower()},
    }[kind]
    response = search_page(app, client, pnc, **form)
    assert response.status_code == 200  # the results themselves, never a redirect
    html = response.get_data(as_text=True)
    assert f'href="/cases/{created["id"]}"' in html
    assert created["number"] in html
    assert [row.detail for row in events(app, "case_search")] == ["results=1"]


def test_the_search_page_finds_nothing_of_another_institution(app, client, pnc, outsider):
    created = open_case(client, pnc)
    response = search_page(app, client, outsider, number=created["number"])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No se encontró ningún expediente" in html
    assert created["id"] not in html


@pytest.mark.parametrize(
    ("form", "message", "kept"),
    [
        ({"dui": "12345678-5"}, "DUI no válido", 'value="12345678-5"'),
        ({"name": NAME}, "Indique también este dato.", f'value="{NAME}"'),
        ({"number": "SON-26"}, "Número de expediente no válido", 'value="SON-26"'),
        ({"birth_date": "no es fecha", "name": NAME}, "fecha", 'value="no es fecha"'),
        ({}, "Busque por un solo criterio", 'name="dui"'),
        ({"dui": VALID_DUI, "number": "SON-2026-000001"}, "un solo criterio", VALID_DUI),
    ],
)
def test_the_search_page_explains_bad_input_and_keeps_what_was_typed(
    app, client, pnc, form, message, kept
):
    response = search_page(app, client, pnc, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message.lower() in html.lower()
    assert kept in html
    assert "Resultados" not in html
    assert events(app, "case_search") == []


def test_the_search_page_refuses_a_post_without_csrf_token(app, client, pnc):
    start_web_session(app, client, pnc.username)
    response = client.post("/cases/search", data={"dui": VALID_DUI})
    assert response.status_code == 400
    assert events(app, "case_search") == []


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_roles_without_case_work_may_not_use_the_search_page(app, client, who, request):
    person: Person = request.getfixturevalue(who)
    start_web_session(app, client, person.username)
    assert client.get("/cases/search").status_code == 403


# ---- a real server: no identifier in any log line ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite file, keys made by `keys init`, the directory and one user."""
    tmp = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUTA_", "FLASK_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'ruta.db'}",
        RUTA_KEY_FILE=str(tmp / "keys" / "kek"),
        RUTA_SECRET_FILE=str(tmp / "secret_key"),
        RUTA_ATTACHMENTS_DIR=str(tmp / "attachments"),
        RUTA_REQUIRE_MFA="0",
        RUTA_SECURE_COOKIES="0",  # served over plain HTTP here
    )
    keys = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "keys", "init"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert keys.returncode == 0, keys.stderr
    settings = Settings.from_env(env)
    migrate_to_head(settings)
    app = create_app(settings)
    with app.app_context():
        load_directory(db.session)
        create_user(
            db.session,
            app.extensions["ruta.keyring"],
            username="agente.logs",
            institution_code="PNC-SON",
            role="pnc_agent",
            password=PASSWORD,
            with_totp=False,
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return env


SERVERS = {
    # As run.sh serves, with one worker and no control socket left in the home directory.
    "gunicorn": [
        *("-m", "gunicorn", "--workers", "1", "--access-logfile", "-", "--no-control-socket"),
        "wsgi:app",
    ],
    "flask": ["-m", "flask", "--app", "wsgi", "run", "--no-reload"],
}


@contextlib.contextmanager
def serving(kind: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """The app served for real on a free port, stdout and stderr into `log`."""
    port = _free_port()
    where = ["--bind", f"127.0.0.1:{port}"] if kind == "gunicorn" else ["--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, *SERVERS[kind], *where],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(server, base, log)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)


def _is_up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


def _wait_until_up(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text(errors="replace")
        if _is_up(base):
            return
        time.sleep(0.1)
    raise AssertionError("the server did not start:\n" + log.read_text(errors="replace"))


class Browser:
    """Just enough of a browser: cookies, JSON calls, forms with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies)

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if isinstance(body, dict) and path.startswith("/api/"):
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif isinstance(body, dict):
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with self.opener.open(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post_form(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        status, page = self.call("GET", path)
        assert status == 200, (path, status)
        return self.call("POST", path, {**form, "csrf_token": csrf_token(page)})


def _use_the_app(base: str) -> None:
    browser = Browser(base)
    status, body = browser.call(
        "POST", "/api/v1/auth/token", {"username": "agente.logs", "password": PASSWORD}
    )
    assert status == 200, body
    token = json.loads(body)["token"]
    status, body = browser.call("POST", "/api/v1/cases", intake(), token)
    assert status == 201, body
    number = json.loads(body)["number"]
    query = urllib.parse.urlencode({"dui": VALID_DUI, "name": NAME, "birth_date": BIRTH_DATE})
    status, body = browser.call("GET", f"/api/v1/cases?{query}", token=token)
    assert status == 400 and "identifier_in_url" in body
    for search_body in ({"dui": VALID_DUI}, {"name": NAME, "birth_date": BIRTH_DATE}):
        status, body = browser.call("POST", "/api/v1/cases/search", search_body, token)
        assert status == 200 and number in body, body
    status, _ = browser.post_form(
        "/login", {"username": "agente.logs", "password": PASSWORD, "otp": ""}
    )
    assert status == 200
    status, page = browser.post_form("/cases/search", {"name": NAME, "birth_date": BIRTH_DATE})
    assert status == 200 and number in page
    status, page = browser.call("GET", f"/cases/search?{query}")  # an old bookmark
    assert status == 200


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_no_log_line_of_a_real_server_carries_an_identifier(served_env, tmp_path, kind):
    log = tmp_path / f"{kind}.log"
    with serving(kind, served_env, log) as base:
        _use_the_app(base)
    written = log.read_text(errors="replace")
    # The access log is on and saw the calls: the test is not passing on an empty log.
    assert "/api/v1/cases/search" in written and "/cases/search" in written
    assert "/api/v1/cases" in written and " 400 " in written
    leaked = [needle for needle in NEEDLES if needle in written]
    assert leaked == [], written
